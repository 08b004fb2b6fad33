import { Injectable, Logger } from '@nestjs/common';
import { rowsOf, withTransaction } from '@sluice/db';
import { DataSource } from 'typeorm';
import { PAST, SweepTally, TERMINAL_SQL, WALK_START, type SweepOptions, type SweepResult } from './retention';

type WalkPosition = { finishedAt: string; id: string };

/**
 * Old terminal rows that may go, `f` being the row: finished before `$1`, and no bytes of theirs left in the
 * drop folder (a file still in processing/, processed/ or quarantine/ keeps its row until the file sweeps
 * remove it, so no file is ever left without its row, and the watcher never mistakes an unfiled file for a
 * new one). An object-store file's row stays until its object is settled.
 */
const OLD_TERMINAL = `f.finished_at IS NOT NULL AND f.finished_at < $1 AND f.status IN ${TERMINAL_SQL}
  AND (f.expired_at IS NOT NULL OR split_part(f.stored_path, '/', 1) NOT IN ('incoming', 'processing', 'processed', 'quarantine'))
  AND NOT EXISTS (SELECT 1 FROM s3_objects s WHERE s.file_id = f.id AND s.settled_at IS NULL)`;

/** Rows one statement deletes at most: each takes its row errors with it (up to MAX_ROW_ERRORS a file). */
const LEDGER_BATCH = 200;

interface Removed {
  id: string;
  originalName: string;
  bytes: string | number | null;
}

/**
 * Retention of the ledger (LEDGER_RETENTION): deletes the terminal rows of `ingest_files` that finished before
 * the horizon, with their row errors (`ingest_errors`, ON DELETE CASCADE) and a stored body still kept
 * (`ingest_payloads`). Never a row still queued or processing, nor one still referenced: by a duplicate
 * (`duplicate_of`), by a member of its zip archive (`archive_id`), by an object not yet settled (`s3_objects`),
 * nor one whose file is still kept in the drop folder. A referenced row goes once what references it has gone
 * (a sweep deletes duplicates and members first, then what they named).
 *
 * The ledger is what remembers content: once a row is deleted, a re-drop of the same bytes is loaded again (it
 * is no longer a `duplicate`), and its rows and aggregates are written again where they differ. The data the
 * file loaded stays (data tables have no foreign key to the ledger). `bytes`: the stored bodies deleted with
 * the rows (the rows' own space returns through autovacuum).
 */
@Injectable()
export class LedgerRetention {
  private readonly logger = new Logger(LedgerRetention.name);

  constructor(private readonly ds: DataSource) {}

  async sweep(horizon: Date, opts: SweepOptions = {}): Promise<SweepResult> {
    const result = opts.dryRun ? await this.count(horizon, opts.limit) : await this.remove(horizon, opts.limit);
    if (result.items) this.logger.log(`${opts.dryRun ? 'would delete' : 'deleted'} ${result.items} ledger row(s) finished before ${horizon.toISOString()}`);
    return result;
  }

  /**
   * Walks the old rows oldest first, in batches of rows nothing references, each batch one transaction (rows
   * another process holds are skipped). A walk that deleted something is followed by another: the duplicates
   * and members it deleted may have freed the rows they named (which the walk had passed). References are one
   * or two levels deep, so a sweep ends after a few walks.
   */
  private async remove(horizon: Date, limit: number | undefined): Promise<SweepResult> {
    const tally = new SweepTally();
    let after: WalkPosition = WALK_START;
    let deletedInWalk = 0;
    for (;;) {
      const room = Math.min(LEDGER_BATCH, tally.room(limit));
      if (room === 0) break;
      const from = after;
      const rows = await withTransaction(this.ds, async (sql) =>
        rowsOf<Removed & WalkPosition>(
          await sql.query(
            `WITH pick AS (
               SELECT f.id FROM ingest_files f
               WHERE ${OLD_TERMINAL} AND ${PAST('$3', '$4', 'f.')}
                 AND NOT EXISTS (SELECT 1 FROM ingest_files d WHERE d.duplicate_of = f.id)
                 AND NOT EXISTS (SELECT 1 FROM ingest_files m WHERE m.archive_id = f.id)
               ORDER BY f.finished_at, f.id LIMIT $2
               FOR UPDATE SKIP LOCKED),
             gone AS (DELETE FROM ingest_files f USING pick WHERE f.id = pick.id RETURNING f.id, f.original_name, f.finished_at),
             bodies AS (DELETE FROM ingest_payloads p USING gone WHERE p.file_id = gone.id RETURNING p.file_id, octet_length(p.body) AS bytes)
             SELECT gone.id, gone.original_name AS "originalName", gone.finished_at::text AS "finishedAt", bodies.bytes
             FROM gone LEFT JOIN bodies ON bodies.file_id = gone.id ORDER BY gone.finished_at, gone.id`,
            [horizon, room, from.finishedAt, from.id],
          ),
        ),
      );
      for (const r of rows) tally.add(r.originalName, Number(r.bytes ?? 0));
      deletedInWalk += rows.length;
      if (rows.length === room) {
        after = rows[rows.length - 1];
        continue;
      }
      // The end of a walk (or rows held elsewhere): walk again only when this one freed something.
      if (deletedInWalk === 0) break;
      after = WALK_START;
      deletedInWalk = 0;
    }
    return tally.result();
  }

  /**
   * What `remove` would delete, without deleting: the old terminal rows less those kept, a kept row being one
   * referenced by a row that stays (not old and terminal, or itself kept), followed down the references.
   */
  private async count(horizon: Date, limit: number | undefined): Promise<SweepResult> {
    const tally = new SweepTally();
    const rows = rowsOf<Removed>(
      await this.ds.query(
        `WITH RECURSIVE cand AS MATERIALIZED (
           SELECT f.id, f.duplicate_of, f.archive_id, f.original_name, f.finished_at FROM ingest_files f WHERE ${OLD_TERMINAL}),
         kept(id) AS (
           SELECT c.id FROM cand c
           WHERE EXISTS (SELECT 1 FROM ingest_files r WHERE (r.duplicate_of = c.id OR r.archive_id = c.id) AND NOT EXISTS (SELECT 1 FROM cand rc WHERE rc.id = r.id))
           UNION
           SELECT x.id FROM kept k JOIN cand kc ON kc.id = k.id JOIN cand x ON x.id = kc.duplicate_of OR x.id = kc.archive_id)
         SELECT c.id, c.original_name AS "originalName", octet_length(p.body) AS bytes
         FROM cand c LEFT JOIN ingest_payloads p ON p.file_id = c.id
         WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.id = c.id)
         ORDER BY c.finished_at, c.id
         LIMIT $2`,
        [horizon, limit ?? null],
      ),
    );
    for (const r of rows) tally.add(r.originalName, Number(r.bytes ?? 0));
    return tally.result();
  }
}
