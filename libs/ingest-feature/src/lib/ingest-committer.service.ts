import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { MAX_BATCH_BYTES } from '@sluice/contracts';
import { withConnection, withTransaction } from '@sluice/db';
import { LedgerAnnouncer, LedgerRepository, type NewLedgerEntry, type Registered } from '@sluice/loading';
import { UploadWriter } from '@sluice/storage';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { IdempotencyRepository, isKeyReused, type IdempotencyClaim, type IdempotencyOwner } from './idempotency.repository';
import { IngestMetrics } from './ingest.metrics';

/**
 * Batches committing at once. One: what arrives during a commit becomes the next batch, so batches grow with
 * the load (fewer, larger transactions and queue messages); a commit takes about a millisecond.
 */
const MAX_BATCHES_IN_FLIGHT = 1;

export type CommitStatus = 'queued' | 'duplicate' | 'existing';

export interface CommitResult {
  rawId: string;
  status: CommitStatus;
  /** True when the Idempotency-Key already named another payload: this one was not stored. */
  replayedKey: boolean;
  /** The Idempotency-Key named a payload sent with another request (body, route or file name): this one was refused. */
  reusedKey?: boolean;
}

interface Pending {
  entry: NewLedgerEntry;
  idempotency?: IdempotencyClaim;
  /** The payload itself, stored in ingest_payloads with its row (entry.storedPath is database/<id>); absent for a file in processing/. */
  body?: Buffer;
  resolve(r: CommitResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit of payloads. A payload is either a small body handed over as it is (stored in
 * ingest_payloads) or a file already written (and fsynced) to processing/. Requests queue here; one batch
 * takes what is queued (up to INGEST_BATCH_MAX payloads and MAX_BATCH_BYTES of bodies; a few batches
 * run at once) and makes it durable together: one fsync of processing/ (the renames) when the batch holds
 * files, one transaction (idempotency keys, ledger rows, bodies). Each caller's promise resolves once its
 * batch committed, so no 202 ever names data that is not durable; the announcement follows (one
 * `batches.queued` message for the stored bodies, one `files.queued` per file, pipelined: LedgerAnnouncer)
 * without holding the answer or the batch slot. Under light load a batch is one request and adds no waiting.
 *
 * A publish that fails after the commit is LedgerAnnouncer's: logged and counted, not returned; the row is
 * queued in the ledger and the watcher republishes rows that stay queued (REQUEUE_AFTER_MS).
 */
@Injectable()
export class IngestCommitter implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestCommitter.name);
  private queue: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly announcing = new Set<Promise<void>>();
  private readonly batchMax: number;

  constructor(
    config: IngestApiConfig,
    private readonly ds: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly idempotency: IdempotencyRepository,
    private readonly drop: UploadWriter,
    private readonly announcer: LedgerAnnouncer,
    private readonly metrics: IngestMetrics,
  ) {
    this.batchMax = config.INGEST_BATCH_MAX;
  }

  /** `body`: store this payload in the database with its row; without it, entry.storedPath names a file in processing/. */
  commit(entry: NewLedgerEntry, idempotency?: IdempotencyClaim, body?: Buffer): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push({ entry, idempotency, body, resolve, reject });
      this.pump();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.inFlight.size || this.announcing.size) await Promise.all([...this.inFlight, ...this.announcing]);
  }

  /**
   * Starts batches while fewer than MAX_BATCHES_IN_FLIGHT are running. Under light load each request is a
   * batch of its own at once; under load the slots are busy and what queues meanwhile becomes the next batch.
   */
  private pump(): void {
    while (this.inFlight.size < MAX_BATCHES_IN_FLIGHT && this.queue.length) {
      const batch = this.take();
      const run: Promise<void> = this.runBatch(batch).finally(() => {
        this.inFlight.delete(run);
        this.pump();
      });
      this.inFlight.add(run);
    }
  }

  /** The next batch: queued payloads in order while under INGEST_BATCH_MAX and MAX_BATCH_BYTES, at least one. */
  private take(): Pending[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.batchMax) {
      const size = this.queue[n].body?.length ?? 0;
      if (n > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const end = this.metrics.batchDuration.startTimer();
    this.metrics.batchSize.observe(batch.length);
    let results: CommitResult[];
    try {
      results = await this.persist(batch);
    } catch (e) {
      this.logger.error(`a batch of ${batch.length} payload(s) could not be committed: ${(e as Error).message}`);
      for (const p of batch) p.reject(e);
      end();
      return;
    }
    // Durable now: answer, and queue the work meanwhile (a lost publish is republished from the ledger).
    batch.forEach((p, i) => p.resolve(results[i]));
    end();
    const announcing: Promise<void> = this.announce(batch, results).finally(() => this.announcing.delete(announcing));
    this.announcing.add(announcing);
  }

  private async persist(batch: Pending[]): Promise<CommitResult[]> {
    if (batch.some((p) => !p.body)) await this.drop.syncArea('processing');
    // Bodies kept in the database with no Idempotency-Key (the common case) need no transaction: registerMany
    // writes rows and bodies in one statement, atomic on its own (a second one only for repeated content).
    // One round trip instead of four, each of which waits its turn on a busy event loop. Should that second
    // statement fail, the first one's rows stay queued unannounced, and the watcher requeues them.
    const transaction = batch.some((p) => !p.body || p.idempotency);
    let connected = false;
    let committing = false;
    const register = async (client: PoolClient) => {
      const keyed = batch.map((p, i) => ({ p, i })).filter((x) => x.p.idempotency);
      const owners = await this.idempotency.claimMany(
        client,
        keyed.map(({ p }) => ({ scope: p.idempotency as IdempotencyClaim, rawId: p.entry.id })),
      );
      const lostTo = new Map<number, IdempotencyOwner>();
      keyed.forEach(({ p, i }, k) => {
        if (owners[k].rawId !== p.entry.id) lostTo.set(i, owners[k]);
      });
      const winners = batch.filter((_, i) => !lostTo.has(i));
      // Bodies go with the rows created (queued or duplicate); an `existing` row was not ours to fill.
      const bodies = new Map(winners.flatMap((p) => (p.body ? [[p.entry.id, p.body] as const] : [])));
      const registered = new Map((await this.ledger.registerMany(client, winners.map((p) => p.entry), bodies)).map((r) => [r.id, r.status]));
      // What fails from here on is the COMMIT.
      committing = true;
      return { lostTo, registered };
    };
    try {
      const { lostTo, registered } = await withConnection(this.ds, (client) => {
        connected = true;
        return transaction ? withTransaction(client, register) : register(client);
      });
      const results = batch.map((p, i): CommitResult => {
        const owner = lostTo.get(i);
        if (owner) return { rawId: owner.rawId, status: 'existing', replayedKey: true, reusedKey: isKeyReused(owner, (p.idempotency as IdempotencyClaim).requestSha256) };
        return { rawId: p.entry.id, status: registered.get(p.entry.id) ?? 'existing', replayedKey: false };
      });
      // Payloads that lost an idempotency race were never registered: remove their files (bodies were never stored).
      for (const i of lostTo.keys()) if (!batch[i].body) await this.drop.discardProcessing(batch[i].entry.storedPath).catch(() => undefined);
      return results;
    } catch (e) {
      if (connected && !committing && transaction) {
        // Rolled back. Nothing names these files: remove them rather than let the watcher adopt what the client was refused.
        for (const p of batch) if (!p.body) await this.drop.discardProcessing(p.entry.storedPath).catch(() => undefined);
      }
      // A failed COMMIT is ambiguous (it may have happened): the files stay, and the watcher adopts any without a row.
      // Bodies went with the transaction: committed with their rows or not at all.
      throw e;
    }
  }

  /**
   * Queued bodies stored in the database go out as `batches.queued` messages, loaded together by a
   * processor; queued files one `files.queued` each. The watcher moves a duplicate file's bytes to
   * processed/ when it hears of it (a stored body stays where it is). A replayed key registered nothing.
   */
  private async announce(batch: Pending[], results: CommitResult[]): Promise<void> {
    const registered = results.flatMap((r, i): Registered[] => (r.replayedKey ? [] : [{ file: batch[i].entry, status: r.status }]));
    await this.announcer.announce(registered);
  }
}
