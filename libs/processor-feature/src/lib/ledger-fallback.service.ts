import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import type { IngestFile } from '@sluice/db';
import { LedgerRepository } from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';
import { FileProcessorService } from './file-processor.service';
import { ledgerFallbackFiles } from './processor.metrics';

/** How often an idle processor looks at its deliveries, and then at the ledger. */
const POLL_MS = 500;
/**
 * A queued row younger than this is left to its message, which is normally on its way: the ledger is only
 * the way round a JetStream that does not deliver, not a second queue racing the first.
 */
const QUEUED_FOR_MS = 1000;

/**
 * Keeps loads going while JetStream delivers nothing: when this processor has had no message and no server
 * heartbeat for LEDGER_FALLBACK_AFTER_MS and runs no handler call (NATS down, or every node restarted and the
 * consumers' leaders not yet elected, which takes up to ~10 s), it takes queued rows straight from the ledger,
 * PROCESSOR_CONCURRENCY at a time, and loads them as a delivery would. Exactly-once is the ledger's, as for a
 * redelivery: the attempt is started in the row, the load locks it, and a message that arrives later for a
 * row loaded meanwhile finds it terminal and only announces it again.
 */
@Injectable()
export class LedgerFallback implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LedgerFallback.name);
  private timer?: NodeJS.Timeout;
  private polling = false;
  private stopping = false;
  private readonly active = new Set<Promise<void>>();
  private engaged = false;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly jetstream: JetStreamService,
    private readonly ledger: LedgerRepository,
    private readonly files: FileProcessorService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.LEDGER_FALLBACK_AFTER_MS > 0) this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await Promise.all([...this.active]);
  }

  /** One look: takes rows while JetStream is stalled and slots are free. */
  async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      const stalled = this.jetstream.delivery.stalledFor(this.config.LEDGER_FALLBACK_AFTER_MS);
      if (stalled !== this.engaged) {
        this.engaged = stalled;
        if (stalled) this.logger.warn(`JetStream delivered nothing for ${this.config.LEDGER_FALLBACK_AFTER_MS} ms: taking queued files from the ledger until it does`);
        else this.logger.log('JetStream delivers again: files come from it');
      }
      const free = this.config.PROCESSOR_CONCURRENCY - this.active.size;
      if (!stalled || free <= 0) return;
      for (const file of await this.ledger.startQueuedAttempts(QUEUED_FOR_MS, free)) {
        ledgerFallbackFiles.inc();
        const run: Promise<void> = this.load(file).finally(() => this.active.delete(run));
        this.active.add(run);
      }
    } catch (e) {
      this.logger.warn(`looking for queued files in the ledger failed: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /**
   * What a delivery does with the file. A failed attempt (the last one records `failed` itself) is left
   * `processing`, for the watcher's requeue.
   */
  private async load(file: IngestFile): Promise<void> {
    try {
      await this.files.attempt(file, () => undefined, { fromLedger: true });
    } catch (e) {
      this.logger.warn(`file ${file.id} (taken from the ledger): attempt ${file.attempts} failed: ${(e as Error).message}`);
    }
  }
}
