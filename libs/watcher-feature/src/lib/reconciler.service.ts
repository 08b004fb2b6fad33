import { Injectable, Logger } from '@nestjs/common';
import { WatcherConfig } from '@sluice/config';
import { BatchSubjects, FileSubjects, isTerminal, MAX_BATCH_FILES, messageIds, messages } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { isStoredInDatabase, LedgerRepository, payloadBatches } from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';
import { DropAreas, isIgnoredName, type ProcessingEntry } from '@sluice/storage';
import { ClaimService } from './claim.service';
import { FileLocks } from './concurrency.util';
import { LedgerQueries } from './ledger-queries.repository';
import { OutcomeMover } from './outcome-mover.service';
import { WatcherMetrics } from './watcher.metrics';

/** A file in processing/ without a ledger row is adopted only once it has not changed for this long. */
const MIN_ORPHAN_GRACE_MS = 2000;
/** Pages of MAX_BATCH_FILES stale rows one pass requeues at most (a pass blocks the rescan meanwhile). */
const MAX_REQUEUE_PAGES = 50;

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
    private readonly drop: DropAreas,
    private readonly ledger: LedgerRepository,
    private readonly queries: LedgerQueries,
    private readonly claims: ClaimService,
    private readonly mover: OutcomeMover,
    private readonly jetstream: JetStreamService,
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
    // Moves interrupted after the file left processing/ but before the ledger learnt its new place. One row
    // that cannot be filed (a permission, say) is warned about and must not hold up the requeue below.
    for (const row of await this.queries.terminalInProcessing()) {
      try {
        await this.mover.settleById(row.id);
      } catch (e) {
        this.warnOnce(`row:${row.id}`, `filing ${row.id} failed: ${(e as Error).message}`);
      }
    }
    await this.requeueStale();
    for (const row of await this.queries.queuedInProcessing()) {
      if (!(await this.storedFileExists(row))) this.warnMissing(row);
    }
  }

  /** Registers claimed files whose writers have closed them since (cheap when none waits). */
  async adoptHeld(): Promise<void> {
    if (this.claims.heldCount === 0) return;
    for (const entry of await this.drop.listProcessing()) {
      if (!entry.fileId || this.claims.heldName(entry.fileId) === undefined) continue;
      try {
        await this.reconcileEntry(entry);
      } catch (e) {
        this.warnOnce(`entry:${entry.name}`, `reconciling ${entry.storedPath} failed: ${(e as Error).message}`);
      }
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
        // A writer still appending to a claimed file: register it once closed, with everything it wrote.
        if ((await this.claims.openForWriting()).has(entry.storedPath)) return;
        const heldName = this.claims.heldName(fileId);
        if (heldName) this.logger.log(`${entry.storedPath} (incoming/${heldName}) is closed by its writer: registering it now`);
        else {
          this.logger.warn(`${entry.storedPath} has no ledger row: registering it now`);
          this.metrics.orphans.inc();
        }
        await this.claims.registerStored(fileId, heldName ?? entry.originalBasename ?? entry.name, entry.storedPath);
        return;
      }
      if (isTerminal(row.status)) await this.mover.settleRow(row);
      // queued/processing: the processor owns it; requeueStale() handles an expired lease.
    });
  }

  /**
   * Publishes again rows that have waited longer than REQUEUE_AFTER_MS, page after page until none is left
   * (a pass stops after MAX_REQUEUE_PAGES; the next rescan goes on), so that a long backlog, e.g. what the
   * ingest-api accepted while NATS was down, goes out at once and not a page per rescan. Payloads stored in
   * the database go out as batch messages (loaded together), files one message each.
   *
   * The msg id includes the row's updated_at: two watchers requeueing the same row at once collapse into
   * one message, while the first publish (msg id = file id) cannot swallow a requeue inside JetStream's
   * duplicate window. Should two watchers still send a row twice, the processor takes it once. This is the
   * requeue that LedgerAnnouncer leaves a failed publish to, so a failure here stops the pass (rows not
   * touched, tried again at the next rescan) rather than being passed over.
   */
  private async requeueStale(): Promise<void> {
    let requeued = 0;
    let oldest: Date | undefined;
    for (let page = 0; page < MAX_REQUEUE_PAGES; page++) {
      const stale = await this.ledger.findStale(this.config.REQUEUE_AFTER_MS, MAX_BATCH_FILES);
      oldest ??= stale[0]?.updatedAt;
      const published: string[] = [];
      for (const batch of payloadBatches(stale.filter((r) => isStoredInDatabase(r.storedPath)))) {
        await this.jetstream.publish(BatchSubjects.queued, messages.batchQueued(batch), messageIds.batchRequeue(batch[0], batch.length));
        published.push(...batch.map((r) => r.id));
      }
      for (const row of stale.filter((r) => !isStoredInDatabase(r.storedPath))) {
        if (!(await this.storedFileExists(row))) {
          this.warnMissing(row);
          continue;
        }
        await this.jetstream.publish(FileSubjects.queued, messages.queued(row), messageIds.requeue(row));
        published.push(row.id);
      }
      // Touched once published, so the next page (and rescan) moves on; a crash before this only repeats the publishes.
      await this.ledger.touchMany(published);
      requeued += published.length;
      if (stale.length < MAX_BATCH_FILES) break;
    }
    if (!requeued) return;
    this.metrics.requeued.inc(requeued);
    this.logger.warn(`${requeued} queued/processing item(s) unchanged for ${this.config.REQUEUE_AFTER_MS} ms (the oldest since ${new Date(oldest ?? 0).toISOString()}): published again`);
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
