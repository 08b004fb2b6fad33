import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rowsOf } from '@sluice/db';
import type { Sql } from './ledger.repository';
import { PAST, SweepTally, TERMINAL_SQL, WALK_START, type SweepOptions, type SweepResult } from './retention';

/** The stored_path of a payload kept in ingest_payloads. No drop-folder area has this name. */
export const DATABASE_AREA = 'database';

export function databaseStoredPath(fileId: string): string {
  return `${DATABASE_AREA}/${fileId}`;
}

export function isStoredInDatabase(storedPath: string): boolean {
  return storedPath.startsWith(`${DATABASE_AREA}/`);
}

/** The next payloads whose bodies retention removes, past the walk's position; `lock`: take them (a real run), skipping rows held elsewhere. */
const EXPIRING = (lock: boolean) => `
  SELECT id, original_name AS "originalName", finished_at AS fin, finished_at::text AS "finishedAt"
  FROM ingest_files
  WHERE split_part(stored_path, '/', 1) = '${DATABASE_AREA}' AND expired_at IS NULL AND finished_at IS NOT NULL AND finished_at < $1
    AND status IN ${TERMINAL_SQL}
    AND ${PAST('$2', '$3')}
  ORDER BY finished_at, id LIMIT $4
  ${lock ? 'FOR NO KEY UPDATE SKIP LOCKED' : ''}`;

interface ExpiringBody {
  id: string;
  originalName: string;
  finishedAt: string;
  bytes: string | number | null;
}

/** Raw bodies of small API payloads (table ingest_payloads), written with their ledger rows (LedgerRepository.registerMany). */
@Injectable()
export class StoredPayloads {
  private readonly logger = new Logger(StoredPayloads.name);

  constructor(private readonly ds: DataSource) {}

  /**
   * Retention of stored bodies (PAYLOAD_RETENTION): removes the bodies of payloads whose ledger row is terminal
   * (processed, duplicate, quarantined, failed) and finished before `horizon`, and marks the row `expired_at`
   * (the row stays: its sha256 still finds a re-sent body as a duplicate; a replay of it answers `file_expired`).
   * A payload still queued or processing is never touched. One autocommitted statement per 1,000 payloads, the
   * rows taken with SKIP LOCKED, so a run never holds a long lock nor waits for a load. `bytes`: the bodies'.
   */
  async sweepExpired(horizon: Date, opts: SweepOptions = {}): Promise<SweepResult> {
    const tally = new SweepTally();
    let after: Pick<ExpiringBody, 'finishedAt' | 'id'> = WALK_START;
    for (;;) {
      const room = tally.room(opts.limit);
      if (room === 0) break;
      const params = [horizon, after.finishedAt, after.id, room];
      const rows = rowsOf<ExpiringBody>(
        await this.ds.query(
          opts.dryRun
            ? `SELECT e.id, e."originalName", e."finishedAt", octet_length(p.body) AS bytes
               FROM (${EXPIRING(false)}) e LEFT JOIN ingest_payloads p ON p.file_id = e.id ORDER BY e.fin, e.id`
            : `WITH e AS (${EXPIRING(true)}),
                    gone AS (DELETE FROM ingest_payloads p USING e WHERE p.file_id = e.id RETURNING p.file_id, octet_length(p.body) AS bytes),
                    marked AS (UPDATE ingest_files f SET expired_at = now() FROM e WHERE f.id = e.id RETURNING f.id)
               SELECT e.id, e."originalName", e."finishedAt", gone.bytes FROM e LEFT JOIN gone ON gone.file_id = e.id ORDER BY e.fin, e.id`,
          params,
        ),
      );
      for (const r of rows) tally.add(r.originalName, Number(r.bytes ?? 0));
      if (rows.length < room) break;
      after = rows[rows.length - 1];
    }
    const result = tally.result();
    if (result.items) this.logger.log(`${opts.dryRun ? 'would remove' : 'removed'} the stored bodies of ${result.items} payload(s) (${result.bytes} bytes) finished before ${horizon.toISOString()}`);
    return result;
  }

  async read(fileId: string, sql: Sql = this.ds): Promise<Buffer | null> {
    return (await this.readMany([fileId], sql)).get(fileId) ?? null;
  }

  async readMany(fileIds: readonly string[], sql: Sql = this.ds): Promise<Map<string, Buffer>> {
    if (fileIds.length === 0) return new Map();
    const rows = rowsOf<{ file_id: string; body: Buffer }>(await sql.query(`SELECT file_id, body FROM ingest_payloads WHERE file_id = ANY($1::uuid[])`, [fileIds]));
    return new Map(rows.map((r) => [r.file_id, r.body]));
  }
}
