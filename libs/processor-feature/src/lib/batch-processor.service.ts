import { Injectable, Logger, Optional } from '@nestjs/common';
import { BatchSubjects, FileSubjects, isTerminal, messageIds, messages } from '@sluice/contracts';
import { withTransaction, type IngestFile } from '@sluice/db';
import { LedgerRepository, PartitionCoverage, PayloadBatchLoader, refusedOutcome, StoredPayloads, type BatchPayload, type FileOutcome, type FinishedRow } from '@sluice/loading';
import { AttemptPolicy, JetStreamService } from '@sluice/messaging';
import { DataSource } from 'typeorm';
import { FileProcessorService } from './file-processor.service';
import * as metrics from './processor.metrics';

/**
 * Loads a batch of small API payloads (one `batches.queued` message) in ONE transaction: attempts
 * counted for all in one statement, rows locked, every payload loaded through PayloadBatchLoader, every
 * outcome written, one commit; then one `batches.finished` message announces them all and the caller
 * acks. The guarantees are the single-file ones: a crash before the commit means a redelivery that redoes
 * the work, after it a redelivery that finds the rows terminal and only re-announces them.
 *
 * A batch that fails as a whole (a database error) does not retry as a batch: each of its payloads is
 * queued alone, so one bad payload cannot hold back the others and the single-file path's attempt limit
 * and backoff apply to it.
 *
 * An attempt is counted in a commit of its own before the load so that a load which kills its process
 * still counts. On a message's first delivery that commit is skipped for payloads never attempted: they
 * are locked in the load transaction and their attempt is counted with their outcome, one write of each
 * ledger row instead of two. A load that kills its process leaves its message unacknowledged, so the
 * message comes back with a higher delivery count and goes the counted way. A payload that kills the
 * processor is tried once more than MAX_ATTEMPTS, not forever.
 */
@Injectable()
export class BatchProcessorService {
  private readonly logger = new Logger(BatchProcessorService.name);

  constructor(
    private readonly attempts: AttemptPolicy,
    private readonly ds: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly payloads: StoredPayloads,
    private readonly loader: PayloadBatchLoader,
    private readonly files: FileProcessorService,
    private readonly jetstream: JetStreamService,
    @Optional() private readonly coverage?: PartitionCoverage,
  ) {}

  /** `firstDelivery`: the message was never handed out before (see the class comment). */
  async process(fileIds: readonly string[], working: () => void, firstDelivery = false): Promise<void> {
    const started = Date.now();
    const announce: FinishedRow[] = [];
    let rest = fileIds;
    if (firstDelivery) {
      try {
        announce.push(...(await this.load(fileIds, working, started, { firstAttempt: true })));
      } catch (e) {
        // Rolled back: every row is as it was, with no attempt counted.
        return this.splitUp(fileIds.map((id) => ({ id, attempts: 0 })), e);
      }
      const done = new Set(announce.map((f) => f.id));
      rest = fileIds.filter((id) => !done.has(id));
    }
    if (rest.length) announce.push(...(await this.processAttempted(rest, working, started)));
    if (announce.length) await this.announce(announce, Date.now() - started);
  }

  /** The attempt of every payload counted (committed) first, then loaded; returns the rows to announce. */
  private async processAttempted(fileIds: readonly string[], working: () => void, started: number): Promise<FinishedRow[]> {
    const taken = await this.ledger.startAttempts(fileIds);
    const takenIds = new Set(taken.map((f) => f.id));
    // Ids not taken are finished already (a redelivery: announce them again) or held by another process
    // right now: those go on alone, where the single-file path waits for the row.
    const announce: FinishedRow[] = [];
    const held: IngestFile[] = [];
    for (const id of fileIds.filter((x) => !takenIds.has(x))) {
      const row = await this.ledger.get(id);
      if (row) (isTerminal(row.status) ? announce : held).push(row);
    }
    if (held.length) await this.requeueAlone(held);
    const fresh: IngestFile[] = [];
    for (const f of taken) {
      // Every earlier attempt died with its process: let the single-file path record the failure.
      if (this.attempts.isExhausted(f.attempts)) await this.files.fail(f.id, { rule: 'attempts_exhausted', message: `processing stopped without an outcome ${f.attempts - 1} times; giving up` });
      else fresh.push(f);
    }
    if (fresh.length) {
      try {
        announce.push(...(await this.load(fresh.map((f) => f.id), working, started, { firstAttempt: false })));
      } catch (e) {
        await this.splitUp(fresh, e);
      }
    }
    return announce;
  }

  /**
   * One transaction: the rows locked (those still `processing`, or with `firstAttempt` those never attempted),
   * their bodies read and loaded, their outcomes written. Returns the finished rows.
   */
  private async load(ids: readonly string[], working: () => void, started: number, { firstAttempt }: { firstAttempt: boolean }): Promise<FinishedRow[]> {
    const { rows, finished } = await withTransaction(this.ds, async (client) => {
      const locked = await this.ledger.lockManyForLoad(client, ids, { unattempted: firstAttempt });
      const bodies = await this.payloads.readMany(locked.map((l) => l.fileId), client);
      const batch: BatchPayload[] = [];
      const missing = new Map<string, FileOutcome>();
      for (const l of locked) {
        const body = bodies.get(l.fileId);
        if (body) batch.push({ ...l, body });
        else missing.set(l.fileId, refusedOutcome(null, { rule: 'file_missing', message: 'the stored body is missing from ingest_payloads' }));
      }
      const outcomes = await this.loader.load(client, batch, this.files.loadOptions(working));
      const finished = [...outcomes, ...missing];
      return { rows: await this.ledger.recordOutcomes(client, finished.map(([id, outcome]) => ({ id, outcome })), { firstAttempt }), finished };
    });
    // Committed: rows that went to a default partition get the partitions of their time (not awaited, as for files).
    void this.coverage?.afterLoad(finished.map(([, o]) => o.rowsWritten));
    const seconds = (Date.now() - started) / 1000;
    for (const [, o] of finished) {
      metrics.fileDuration.observe(seconds);
      metrics.filesFinished.inc({ status: o.status, kind: o.kind ?? 'unknown' });
      metrics.rowsLoaded.inc(o.rowsLoaded);
      metrics.rowsRejected.inc(o.rowsRejected);
      metrics.countRowsWritten(o.rowsWritten);
    }
    return rows;
  }

  /** A batch that failed as a whole: each payload goes on alone. */
  private async splitUp(files: ReadonlyArray<Pick<IngestFile, 'id' | 'attempts'>>, e: unknown): Promise<void> {
    metrics.attemptsFailed.inc();
    this.logger.warn(`a batch of ${files.length} payload(s) failed (${(e as Error).message}); queueing each alone`);
    await this.requeueAlone(files);
  }

  private async requeueAlone(files: ReadonlyArray<Pick<IngestFile, 'id' | 'attempts'>>): Promise<void> {
    await Promise.all(files.map((f) => this.jetstream.publish(FileSubjects.queued, messages.queued(f), messageIds.alone(f))));
  }

  /** One message for the whole batch; its id makes a repeat after a crash harmless. */
  private async announce(rows: FinishedRow[], durationMs: number): Promise<void> {
    await this.jetstream.publish(BatchSubjects.finished, messages.batchFinished(rows, { durationMs }), messageIds.batchFinished(rows[0].id, rows.length));
    this.logger.log({ files: rows.length, durationMs }, 'batch finished');
  }
}
