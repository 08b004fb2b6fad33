import type { ProcessorConfig } from '@sluice/config';
import { AttemptPolicy } from '@sluice/messaging';

/**
 * The processor's one attempt policy, read from the config once: MAX_ATTEMPTS attempts at a file, counted in
 * the ledger, and one delivery more than that, whose only work is to record `failed` when every attempt died
 * with its process. The transport and both processors take it.
 */
export const processorAttempts = (config: ProcessorConfig): AttemptPolicy => new AttemptPolicy(config.MAX_ATTEMPTS, { spareDelivery: true });
