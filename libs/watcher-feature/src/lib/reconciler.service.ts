import { Injectable, Logger } from '@nestjs/common';
import { WatcherConfig } from '@sluice/config';
import { isTerminal } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerRepository } from '@sluice/loading';
import { DropFolder, isIgnoredName, type ProcessingEntry } from '@sluice/storage';
import { ClaimService } from './claim.service';
import { FileLocks } from './concurrency.util';
import { LedgerQueries } from './ledger-queries.repository';
import { LifecyclePublisher } from './lifecycle.publisher';
import { OutcomeMover } from './outcome-mover.service';
import { WatcherMetrics } from './watcher.metrics';

/** A file in processing/ without a ledger row is adopted only once it has not changed for this long. */
const MIN_ORPHAN_GRACE_MS = 2000;

/**
 * Brings processing/ and the ledger back in line after any crash (SPEC §3): runs at start and on every
 * rescan. The ledger row is the truth; the folder follows it.
 */
@Injectable()
export class Reconciler {
  private readonly logger = new Logger(Reconciler.name);
  private readonly warned = new Set<string>();
  private readonly orphanGraceMs: number;

  constructor(
    private readonly config: WatcherConfig,
    private readonly drop: DropFolder,
    private readonly ledger: LedgerRepository,
    private readonly queries: LedgerQueries,
    private readonly claims: ClaimService,
    private readonly mover: OutcomeMover,
    private readonly publisher: LifecyclePublisher,
    private readonly locks: FileLocks,
    private readonly metrics: WatcherMetrics,
  ) {
    this.orphanGraceMs = Math.max(MIN_ORPHAN_GRACE_MS, config.STABILITY_WINDOW_MS);
  }

  async reconcile(): Promise<void> {
    for (const entry of await this.drop.listProcessing()) {
      try {
        await this.reconcileEntry(entry);
      } catch (e) {
        this.warnOnce(`entry:${entry.name}`, `reconciling ${entry.storedPath} failed: ${(e as Error).message}`);
      }
    }
    // Moves interrupted after the file left processing/ but before the ledger learnt its new place.
    for (const row of await this.queries.terminalInProcessing()) await this.mover.settleById(row.id);
    await this.requeueStale();
    for (const row of await this.queries.queuedInProcessing()) {
      if (!(await this.storedFileExists(row))) this.warnMissing(row);
    }
  }

  private async reconcileEntry(entry: ProcessingEntry): Promise<void> {
    // Writers of processing/ (the ingest API) use temporary names until a file is complete.
    if (isIgnoredName(entry.name)) return;
    const settled = Date.now() - entry.ctimeMs >= this.orphanGraceMs;
    if (entry.type !== 'file') {
      if (settled) await this.claims.quarantineIrregular(entry.storedPath, `is a ${entry.type} in processing/`);
      return;
    }
    const fileId = entry.fileId;
    if (!fileId) {
      this.warnOnce(`name:${entry.name}`, `${entry.storedPath} is not named <fileId>__<name>; left alone`);
      return;
    }
    await this.locks.run(fileId, async () => {
      const row = await this.ledger.get(fileId);
      if (!row) {
        // The watcher died between the rename and the ledger insert (or another one is just between them).
        if (!settled) return;
        this.logger.warn(`${entry.storedPath} has no ledger row: registering it now`);
        this.metrics.orphans.inc();
        await this.claims.registerStored(fileId, entry.originalBasename ?? entry.name, entry.storedPath);
        return;
      }
      if (isTerminal(row.status)) await this.mover.settleRow(row);
      // queued/processing: the processor owns it; requeueStale() handles an expired lease.
    });
  }

  /**
   * Publishes again rows that have waited longer than REQUEUE_AFTER_MS. The msg id includes the row's
   * updated_at: two watchers requeueing the same row at once collapse into one message, while the first
   * publish (msg id = file id) cannot swallow a requeue inside JetStream's duplicate window.
   */
  private async requeueStale(): Promise<void> {
    for (const row of await this.ledger.findStale(this.config.REQUEUE_AFTER_MS)) {
      if (!(await this.storedFileExists(row))) {
        this.warnMissing(row);
        continue;
      }
      await this.publisher.queued(row.id, `${row.id}.requeue.${new Date(row.updatedAt).getTime()}`);
      await this.ledger.touch(row.id);
      this.metrics.requeued.inc();
      this.logger.warn(`file ${row.id} ${row.status} since ${new Date(row.updatedAt).toISOString()}: published again`);
    }
  }

  /** Only drop-folder paths can be checked here; anything else (an object store key) is assumed present. */
  private async storedFileExists(row: IngestFile): Promise<boolean> {
    if (!row.storedPath.startsWith('processing/')) return true;
    try {
      await this.drop.stat(row.storedPath);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      return true;
    }
  }

  private warnMissing(row: IngestFile): void {
    this.warnOnce(`missing:${row.id}`, `ledger row ${row.id} is ${row.status} but ${row.storedPath} does not exist; left for a person (no data invented)`);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size > 10000) this.warned.clear();
    this.warned.add(key);
    this.logger.warn(message);
  }
}
