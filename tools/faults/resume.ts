import type { Stack } from '@sluice/testing';
import type { FaultKind } from './faults';

/** Faults after which the campaign records how long the pipeline takes to resume. */
export const RESUME_FAULTS: readonly FaultKind[] = ['nats-node', 'nats-restart'];

/**
 * How long the pipeline took to resume after a NATS fault: from `fromMs` (the node lost for `nats-node`, the
 * servers listening again for `nats-restart`) to the first ledger row the processor finished after it
 * (`processed` or `quarantined`, by its `finished_at`). Undefined when no row finished after it: nothing was
 * left to resume.
 */
export async function resumeMs(stack: Stack, fromMs: number): Promise<number | undefined> {
  const [row] = await stack.query<{ at: Date | null }>(
    `SELECT min(finished_at) AS at FROM ingest_files WHERE status IN ('processed', 'quarantined') AND finished_at >= to_timestamp($1::double precision / 1000)`,
    [fromMs],
  );
  return row?.at ? new Date(row.at).getTime() - fromMs : undefined;
}
