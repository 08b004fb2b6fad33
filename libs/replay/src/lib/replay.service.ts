import { Injectable, Logger } from '@nestjs/common';
import { messageIds, type FileStatus } from '@sluice/contracts';
import { hasSqlState, rowsOf, SqlState, withTransaction, type IngestFile } from '@sluice/db';
import { isStoredInDatabase, LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { OutcomeFiling, isArchiveMember, isStorageException, isStoredInObjectStore } from '@sluice/storage';
import { DataSource } from 'typeorm';
import { ReplayException } from './replay.exception';

/** Terminal states a file can be re-run from. A `duplicate` is not: replay the file it duplicates. */
export const REPLAYABLE_STATUSES = ['quarantined', 'failed', 'processed'] as const satisfies readonly FileStatus[];
export type ReplayableStatus = (typeof REPLAYABLE_STATUSES)[number];

const DEFAULT_BATCH_LIMIT = 1000;

export interface ReplayFilter {
  status: Extract<ReplayableStatus, 'quarantined' | 'failed'>;
  /** Only files that finished at or after this time. */
  since?: Date;
  /** At most this many files (default 1000); call again for more. */
  limit?: number;
}

export interface ReplaySkip {
  id: string;
  code: ReplayException['code'];
  message: string;
}

export interface ReplayManyResult {
  replayed: IngestFile[];
  skipped: ReplaySkip[];
}

export interface RedriveResult {
  /** Ids of the queued/processing rows published again. */
  redriven: string[];
}

/**
 * Re-runs files. A replay moves the bytes back into processing/, resets the ledger row to `queued`
 * (attempts back to 0 so the processor's attempt limit applies afresh, `replays` + 1, outcome, counts
 * and row errors cleared; `created_at` kept, so a re-run old file never beats a newer one in the
 * latest-state tables) and announces it again (`messageIds.replay`: a new msg id for each replay). A publish
 * that fails is LedgerAnnouncer's: logged and counted, not thrown; the row is queued and the watcher requeues it.
 *
 * Replaying a `processed` file loads the same content again. The loaders are idempotent, so the data
 * tables end as they were unless something changed in between: a wider METRIC_RANGES now admits rows
 * that were rejected, rows deleted by hand come back, an aggregate is recomputed. Nothing is doubled.
 *
 * Crash safety: the file is hard-linked into processing/ before the ledger row changes and the old name
 * is removed only after the commit, so whichever path the row names exists. A crash between link and
 * commit leaves a spare link in processing/ that a repeated replay reuses.
 *
 * A small API payload kept in the database (stored_path `database/<id>`) has no file to move: its body
 * must still be in ingest_payloads, and the row keeps its stored_path.
 */
@Injectable()
export class ReplayService {
  private readonly logger = new Logger(ReplayService.name);

  constructor(
    private readonly ds: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly drop: OutcomeFiling,
    private readonly announcer: LedgerAnnouncer,
    private readonly payloads: StoredPayloads,
  ) {}

  /** Re-runs one terminal file; returns its ledger row (now `queued`). */
  async replay(fileId: string): Promise<IngestFile> {
    const row = await this.ledger.get(fileId);
    if (!row) throw new ReplayException('not_found', `file ${fileId} is not in the ledger`, { id: fileId });
    assertReplayable(row);
    assertNotExpired(row);
    const restored = await this.restore(row);
    const content = await this.contentOf(row, restored.storedPath);
    let replays: number;
    try {
      replays = await this.resetRow(row.id, restored.storedPath, content);
    } catch (e) {
      // Retention removed the file between its restore and the reset: the link made in processing/ is its last
      // copy, which no replay may use; left there, it would outlive the ledger row and load again as a new file.
      if (restored.previous && e instanceof ReplayException && e.code === 'file_expired') {
        await this.drop.discardRestored(restored.storedPath).catch((d: unknown) => this.logger.warn(`file ${fileId}: could not remove ${restored.storedPath}: ${(d as Error).message}`));
      }
      throw e;
    }
    if (restored.previous) {
      await this.drop.releaseRestored(restored.previous).catch((e: unknown) => this.logger.warn(`file ${fileId}: could not remove the old copy ${restored.previous}: ${(e as Error).message}`));
    }
    // Read before publishing: once the message is out a processor may claim the row at once, and the answer is the
    // row this replay queued, not whatever state the next run has reached. Should the read fail, the queued row is
    // left unpublished, which the watcher's requeue picks up as it does a failed publish.
    const queuedRow = await this.ledger.get(row.id);
    if (!queuedRow) throw new ReplayException('not_found', `file ${fileId} vanished from the ledger`, { id: fileId });
    await this.announcer.requeued(queuedRow, messageIds.replay(row.id, replays));
    this.logger.log(`file ${row.id} (${row.originalName}) replayed from ${row.status} (replay ${replays})`);
    return queuedRow;
  }

  /** Makes the row's bytes available to the processor again: the path the row will name, and an old copy to remove after the commit. */
  private async restore(row: IngestFile): Promise<{ storedPath: string; previous: string | null }> {
    const fileId = row.id;
    if (isStoredInDatabase(row.storedPath)) {
      if (!(await this.payloads.read(row.id))) {
        throw new ReplayException('file_missing', `the stored bytes of file ${fileId} (${row.storedPath}) cannot be used: the body is missing from ingest_payloads`, {
          id: fileId,
          storedPath: row.storedPath,
        });
      }
      return { storedPath: row.storedPath, previous: null };
    }
    // An object version is read from its store where the row names it (a read of another version is quarantined as object_changed);
    // a zip member from its archive, wherever the archive's row says it is.
    if (isStoredInObjectStore(row.storedPath) || isArchiveMember(row.storedPath)) return { storedPath: row.storedPath, previous: null };
    try {
      return await this.drop.restore(row.storedPath, row.id);
    } catch (e) {
      if (isStorageException(e) || (e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ReplayException('file_missing', `the stored bytes of file ${fileId} (${row.storedPath}) cannot be used: ${(e as Error).message}`, { id: fileId, storedPath: row.storedPath });
      }
      throw e;
    }
  }

  /**
   * Hash and size of the bytes the replay will load. They differ from the row's when the file changed after
   * its claim (a writer that kept writing, quarantined `changed_after_claim`): the row then takes the new
   * content's identity, so the processor's check compares against what is really there.
   */
  private async contentOf(row: IngestFile, storedPath: string): Promise<{ sha256: string; size: number }> {
    const recorded = { sha256: row.sha256.trim(), size: Number(row.sizeBytes) };
    // A payload is written once with its row; an object version is pinned by its ETag (another one is object_changed).
    if (isStoredInDatabase(storedPath) || isStoredInObjectStore(storedPath) || isArchiveMember(storedPath)) return recorded;
    const now = await this.drop.sha256AndSize(storedPath);
    if (now.sha256 !== recorded.sha256) {
      this.logger.warn(`file ${row.id} (${row.originalName}) changed since it was stored: ${recorded.size} → ${now.size} bytes; the replay loads and records its current content`);
    }
    return now;
  }

  /**
   * Replays every file in `status` (finished since `since`), oldest first; refusals are listed, not thrown. Files
   * whose bytes retention removed are left out (they would fill every page with `file_expired`).
   */
  async replayWhere(filter: ReplayFilter): Promise<ReplayManyResult> {
    const ids = rowsOf<{ id: string }>(
      await this.ds.query(
        `SELECT id FROM ingest_files WHERE status = $1 AND ($2::timestamptz IS NULL OR finished_at >= $2) AND expired_at IS NULL
         ORDER BY finished_at, id LIMIT $3`,
        [filter.status, filter.since ?? null, filter.limit ?? DEFAULT_BATCH_LIMIT],
      ),
    );
    const out: ReplayManyResult = { replayed: [], skipped: [] };
    for (const { id } of ids) {
      try {
        out.replayed.push(await this.replay(id));
      } catch (e) {
        if (!(e instanceof ReplayException)) throw e;
        out.skipped.push({ id, code: e.code, message: e.message });
      }
    }
    return out;
  }

  /**
   * Publishes again the rows stuck in `queued`/`processing` with no change for `olderThanMs` (a lost
   * message, a processor that died). Safe: the processor takes a row only while it is not terminal.
   */
  async redriveStuck(olderThanMs: number): Promise<RedriveResult> {
    const redriven: string[] = [];
    for (const row of await this.ledger.findStale(olderThanMs)) {
      await this.announcer.requeued(row, messageIds.redrive(row));
      await this.ledger.touch(row.id);
      redriven.push(row.id);
    }
    if (redriven.length) this.logger.warn(`re-drove ${redriven.length} stuck file(s)`);
    return { redriven };
  }

  /** Resets the row under its lock; returns the new replay count. */
  private async resetRow(id: string, storedPath: string, content: { sha256: string; size: number }): Promise<number> {
    return withTransaction(this.ds, async (client) => {
      const current = rowsOf<{ status: FileStatus; expiredAt: Date | null }>(
        await client.query(`SELECT status, expired_at AS "expiredAt" FROM ingest_files WHERE id = $1 FOR UPDATE`, [id]),
      )[0];
      if (!current) throw new ReplayException('not_found', `file ${id} is not in the ledger`, { id });
      assertReplayable({ id, status: current.status });
      assertNotExpired({ id, expiredAt: current.expiredAt });
      await client.query(`DELETE FROM ingest_errors WHERE file_id = $1`, [id]);
      // An object's after-load action (or quarantine report) is done again for its new outcome.
      await client.query(`UPDATE s3_objects SET settled_at = NULL, settled_as = NULL WHERE file_id = $1`, [id]);
      let updated: { replays: number }[];
      try {
        await client.query('SAVEPOINT reset');
        updated = rowsOf<{ replays: number }>(
          await client.query(
            `UPDATE ingest_files SET status = 'queued', stored_path = $2, sha256 = $3, size_bytes = $4, attempts = 0, replays = replays + 1,
               rows_total = 0, rows_loaded = 0, rows_rejected = 0, error = NULL,
               duplicate_of = NULL, queued_at = now(), started_at = NULL, finished_at = NULL, updated_at = now()
             WHERE id = $1 RETURNING replays`,
            [id, storedPath, content.sha256, content.size],
          ),
        );
      } catch (e) {
        if (!hasSqlState(e, SqlState.uniqueViolation)) throw e;
        await client.query('ROLLBACK TO SAVEPOINT reset');
        const live = rowsOf<{ id: string }>(
          await client.query(`SELECT l.id FROM ingest_files l WHERE l.sha256 = $2 AND l.id <> $1 AND l.status IN ('queued','processing','processed')`, [id, content.sha256]),
        )[0];
        throw new ReplayException('content_live', `the same content is already loaded or queued as file ${live?.id ?? '(another file)'}; replaying ${id} would load it twice`, {
          id,
          liveFileId: live?.id ?? null,
        });
      }
      return updated[0]?.replays ?? 1;
    });
  }
}

/** Retention removed the bytes (PROCESSED_RETENTION, QUARANTINE_RETENTION, PAYLOAD_RETENTION): nothing is left to load. */
function assertNotExpired(row: { id: string; expiredAt: Date | string | null }): void {
  if (row.expiredAt === null || row.expiredAt === undefined) return;
  const expiredAt = new Date(row.expiredAt).toISOString();
  throw new ReplayException('file_expired', `file ${row.id} cannot be replayed: its stored bytes were removed by retention at ${expiredAt}`, { id: row.id, expiredAt });
}

function assertReplayable(row: { id: string; status: FileStatus }): void {
  if (!(REPLAYABLE_STATUSES as readonly FileStatus[]).includes(row.status)) {
    const why = row.status === 'duplicate' ? 'it is a duplicate; replay the file it duplicates' : 'it has not finished yet';
    throw new ReplayException('not_replayable', `file ${row.id} is ${row.status}: ${why}`, { id: row.id, status: row.status });
  }
}
