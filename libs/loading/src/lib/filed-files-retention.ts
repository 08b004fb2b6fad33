import { Injectable, Logger } from '@nestjs/common';
import { rowsOf, withTransaction } from '@sluice/db';
import { OutcomeFiling, type OutcomeTarget } from '@sluice/storage';
import { DataSource } from 'typeorm';
import type { Sql } from './ledger.repository';
import { PAST, SweepTally, TERMINAL_SQL, WALK_START, type SweepOptions, type SweepResult } from './retention';

/** Files removed in one transaction at most: their rows stay locked while it unlinks them. */
const FILE_BATCH = 200;

type WalkPosition = Pick<Candidate, 'finishedAt' | 'id'>;

interface Candidate {
  id: string;
  storedPath: string;
  originalName: string;
  /** finished_at as PostgreSQL's text, to the microsecond: the walk's position. */
  finishedAt: string;
}

/**
 * Retention of the drop folder's finished files (PROCESSED_RETENTION, QUARANTINE_RETENTION): removes the files
 * filed in processed/ (processed and duplicate files) or quarantine/ (quarantined and failed files, with their
 * `<name>.error.json`) whose ledger row finished before the horizon, and marks the row `expired_at`. The
 * ledger's finish time is the filing time (the watcher files a file once its outcome is recorded); a file's
 * mtime is not, since filing hard-links the original. A zip archive's members, read from its bytes, expire
 * with it; an archive with a member still queued or processing (a member's replay) is left for a later run.
 *
 * The ledger row stays, so its sha256 still makes a re-drop of the same bytes a `duplicate`, and a replay of it
 * is refused (`file_expired`). Only paths inside processed/ and quarantine/ are touched (OutcomeFiling's path
 * safety); rows of object-store files (`s3/…`) and stored bodies (`database/…`) are never read here. A file
 * already gone is marked expired without error. Rows are taken with SKIP LOCKED in short transactions, so a
 * replay in progress is passed over, and a file that cannot be removed is logged and left for the next run.
 */
@Injectable()
export class FiledFilesRetention {
  private readonly logger = new Logger(FiledFilesRetention.name);

  constructor(
    private readonly ds: DataSource,
    private readonly filing: OutcomeFiling,
  ) {}

  /** Files in processed/ (PROCESSED_RETENTION). */
  sweepProcessed(horizon: Date, opts: SweepOptions = {}): Promise<SweepResult> {
    return this.sweep('processed', horizon, opts);
  }

  /** Files in quarantine/ and their error.json (QUARANTINE_RETENTION). */
  sweepQuarantine(horizon: Date, opts: SweepOptions = {}): Promise<SweepResult> {
    return this.sweep('quarantine', horizon, opts);
  }

  private async sweep(area: OutcomeTarget, horizon: Date, opts: SweepOptions): Promise<SweepResult> {
    const tally = new SweepTally();
    let after: WalkPosition | null = WALK_START;
    while (after) {
      const room = Math.min(FILE_BATCH, tally.room(opts.limit));
      if (room === 0) break;
      const from: WalkPosition = after;
      const batch = (sql: Sql) => this.batch(sql, area, horizon, from, room, tally, opts.dryRun === true);
      after = opts.dryRun ? await batch(this.ds) : await withTransaction(this.ds, batch);
    }
    const result = tally.result();
    if (result.items) this.logger.log(`${opts.dryRun ? 'would remove' : 'removed'} ${result.items} file(s) (${result.bytes} bytes) from ${area}/ finished before ${horizon.toISOString()}`);
    return result;
  }

  /** One batch: the next rows past `after`; returns the last one when the batch was full (more may follow). */
  private async batch(sql: Sql, area: OutcomeTarget, horizon: Date, after: WalkPosition, room: number, tally: SweepTally, dryRun: boolean): Promise<WalkPosition | null> {
    const rows = rowsOf<Candidate>(
      await sql.query(
        `SELECT id, stored_path AS "storedPath", original_name AS "originalName", finished_at::text AS "finishedAt"
         FROM ingest_files f
         WHERE split_part(stored_path, '/', 1) = $1 AND expired_at IS NULL AND finished_at IS NOT NULL AND finished_at < $2
           AND status IN ${TERMINAL_SQL}
           AND ${PAST('$3', '$4')}
           AND NOT EXISTS (SELECT 1 FROM ingest_files m WHERE m.archive_id = f.id AND m.status IN ('queued', 'processing'))
         ORDER BY finished_at, id LIMIT $5
         ${dryRun ? '' : 'FOR NO KEY UPDATE SKIP LOCKED'}`,
        [area, horizon, after.finishedAt, after.id, room],
      ),
    );
    const expired: string[] = [];
    for (const row of rows) {
      try {
        const removed = await this.filing.removeFiled(row.storedPath, { dryRun });
        tally.add(row.originalName, removed.bytes);
        expired.push(row.id);
      } catch (e) {
        this.logger.warn(`file ${row.id}: ${row.storedPath} not removed: ${(e as Error).message}`);
      }
    }
    if (!dryRun && expired.length) {
      await sql.query(`UPDATE ingest_files SET expired_at = now() WHERE id = ANY($1::uuid[])`, [expired]);
      await sql.query(`UPDATE ingest_files SET expired_at = now() WHERE archive_id = ANY($1::uuid[]) AND expired_at IS NULL`, [expired]);
    }
    return rows.length < room ? null : rows[rows.length - 1];
  }
}
