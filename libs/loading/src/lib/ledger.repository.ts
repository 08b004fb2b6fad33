import { Injectable } from '@nestjs/common';
import { totalRows, type FileKind, type FileSource, type FileStatus, type RejectReason, type RowsByTable } from '@sluice/contracts';
import { hasSqlState, IngestFile, rowsOf, SqlState, withTransaction } from '@sluice/db';
import { storable } from '@sluice/formats';
import { DataSource } from 'typeorm';
import type { LoadResult } from './kind-loader';

/** Something that runs SQL: the DataSource (autocommit) or the pg client of an open transaction. */
export interface Sql {
  query(text: string, params?: unknown[]): Promise<unknown>;
}

export interface NewLedgerEntry {
  id: string;
  source: FileSource;
  originalName: string;
  storedPath: string;
  sha256: string;
  sizeBytes: number;
  /** How the stored bytes are packed; sha256/sizeBytes are then of the content (see contentDigest). */
  compression?: 'gzip' | 'zip' | null;
  /** A member of a zip archive: the archive's row and the member's index in it. */
  archiveId?: string;
  memberIndex?: number;
}

export type RegisterResult = { status: 'queued'; row: IngestFile } | { status: 'duplicate'; row: IngestFile; duplicateOf: string } | { status: 'existing'; row: IngestFile };

export interface FileOutcome {
  status: Extract<FileStatus, 'processed' | 'quarantined' | 'failed'>;
  kind: FileKind | null;
  rowsTotal: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** Rows written to the data tables, per table (tables written none left out). */
  rowsWritten: RowsByTable;
  error: RejectReason | null;
  /** A file taken by a data contract: which contract and version (kind `contract`). */
  contract?: ContractOutcome;
}

/**
 * The data contract a file went through. Its rows are in the contract's own table, not in `rowsWritten` (which
 * names Sluice's tables): `rows` is how many rows of the file that table holds after the load, and becomes the
 * file's rows_written (set, not added: a replay finds its earlier rows again and must not count them twice);
 * null when the file was refused, which leaves an earlier load's count as it was.
 */
export interface ContractOutcome {
  name: string;
  hash: string;
  rows: number | null;
}

/** The outcome of a file refused before (or instead of) loading. */
export function refusedOutcome(kind: FileKind | null, reason: RejectReason, contract?: ContractOutcome): FileOutcome {
  return { status: 'quarantined', kind, rowsTotal: 0, rowsLoaded: 0, rowsRejected: 0, rowsWritten: {}, error: reason, ...(contract ? { contract } : {}) };
}

/** The outcome of a load: processed, or quarantined when the loader refused the file as a whole. */
export function loadOutcome(kind: FileKind, r: LoadResult): FileOutcome {
  return {
    status: r.rejection ? 'quarantined' : 'processed',
    kind,
    rowsTotal: r.rowsTotal,
    rowsLoaded: r.rejection ? 0 : r.rowsLoaded,
    rowsRejected: r.rowsRejected,
    rowsWritten: r.rejection ? {} : r.rowsWritten,
    error: r.rejection,
  };
}

/** A reason as jsonb text: a NUL or lone surrogate quoted from a bad record would make PostgreSQL refuse it. */
function reasonJson(r: RejectReason | null): string | null {
  return r ? JSON.stringify(r, (_k, v: unknown) => (typeof v === 'string' ? storable(v) : v)) : null;
}

const LIVE = `('queued','processing','processed')`;

/** A ledger row locked for a batch's load: its place in arrival order and the name its payload came under. */
export interface LockedForLoad {
  fileId: string;
  /** created_at with microseconds (CREATED_AT_US). */
  createdAt: string;
  originalName: string;
}

/** A row's created_at as UTC text with microseconds: its place in arrival order ("the later file wins"). */
export const CREATED_AT_US = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** What announcing a finished row takes (messages.lifecycle); the rest of the row is not read back. */
export type FinishedRow = Pick<IngestFile, 'id' | 'status' | 'originalName' | 'kind' | 'rowsLoaded' | 'rowsRejected' | 'duplicateOf' | 'error'>;

const FINISHED_COLUMNS = `id, status, original_name AS "originalName", kind, rows_loaded AS "rowsLoaded", rows_rejected AS "rowsRejected", duplicate_of AS "duplicateOf", error`;

/** Two jsonb counts per table added up, table by table (`rows_written_by_table` plus what a load wrote). */
const addByTable = (stored: string, added: string) =>
  `(SELECT coalesce(jsonb_object_agg(t, n), '{}'::jsonb) FROM (SELECT t, sum(v::bigint) AS n FROM (SELECT * FROM jsonb_each_text(${stored}) UNION ALL SELECT * FROM jsonb_each_text(${added})) e(t, v) GROUP BY t) s)`;

const COLUMNS = `id, source, original_name AS "originalName", stored_path AS "storedPath", sha256,
  size_bytes AS "sizeBytes", compression, archive_id AS "archiveId", member_index AS "memberIndex", kind, status, duplicate_of AS "duplicateOf", rows_total AS "rowsTotal",
  rows_loaded AS "rowsLoaded", rows_rejected AS "rowsRejected", rows_written AS "rowsWritten",
  rows_written_by_table AS "rowsWrittenByTable", error, contract_name AS "contractName", contract_hash AS "contractHash",
  attempts, replays, created_at AS "createdAt", queued_at AS "queuedAt", updated_at AS "updatedAt", started_at AS "startedAt", finished_at AS "finishedAt", expired_at AS "expiredAt"`;

/**
 * The ledger (`ingest_files`): every state change of a file goes through here. Each method is a single
 * statement, safe to repeat, so any step of the pipeline can be retried after a crash.
 */
@Injectable()
export class LedgerRepository {
  constructor(private readonly ds: DataSource) {}

  async get(id: string, sql: Sql = this.ds): Promise<IngestFile | null> {
    return rowsOf<IngestFile>(await sql.query(`SELECT ${COLUMNS} FROM ingest_files WHERE id = $1`, [id]))[0] ?? null;
  }

  /**
   * Records a claimed file. Content already live in the ledger (queued, processing or processed) makes
   * this row a `duplicate` of it. Registering the same id twice returns the existing row.
   */
  async register(entry: NewLedgerEntry): Promise<RegisterResult> {
    const existing = await this.get(entry.id);
    if (existing) return { status: 'existing', row: existing };
    const params = [entry.id, entry.source, entry.originalName, entry.storedPath, entry.sha256, entry.sizeBytes, entry.compression ?? null];
    try {
      const inserted = rowsOf<IngestFile>(await this.ds.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, compression, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')
         ON CONFLICT (sha256) WHERE status IN ${LIVE} DO NOTHING
         RETURNING ${COLUMNS}`,
        params,
      ));
      if (inserted[0]) return { status: 'queued', row: inserted[0] };
      const original = rowsOf<{ id: string }>(await this.ds.query(`SELECT id FROM ingest_files WHERE sha256 = $1 AND status IN ${LIVE}`, [entry.sha256]));
      const duplicateOf = original[0]?.id ?? null;
      const dup = rowsOf<IngestFile>(await this.ds.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, compression, status, duplicate_of, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'duplicate', $8, now())
         RETURNING ${COLUMNS}`,
        [...params, duplicateOf],
      ));
      return { status: 'duplicate', row: dup[0], duplicateOf: duplicateOf ?? '' };
    } catch (e) {
      // A concurrent register of the same id won the race: report what it stored.
      if (hasSqlState(e, SqlState.uniqueViolation)) {
        const row = await this.get(entry.id);
        if (row) return { status: 'existing', row };
      }
      throw e;
    }
  }

  /**
   * `register` for many files in two statements (one when no content repeats), normally inside the caller's
   * transaction (`sql`): new content is `queued`, content already live (in the ledger or earlier in this
   * batch) becomes a `duplicate` of it, an id already registered is reported as `existing`. `bodies` (of
   * payloads kept in the database) go into ingest_payloads in the same statement as the rows they belong to,
   * for the rows created here only. Returns one result per entry, in order. Rows are inserted in sha256
   * order so that concurrent batches take the unique index's locks in one order.
   */
  async registerMany(
    sql: Sql,
    entries: readonly NewLedgerEntry[],
    bodies: ReadonlyMap<string, Buffer> = new Map(),
  ): Promise<Array<{ id: string; status: 'queued' | 'duplicate' | 'existing'; duplicateOf: string | null }>> {
    if (entries.length === 0) return [];
    const input = `SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $9::text[], $10::uuid[], $11::int[])
      WITH ORDINALITY AS t(id, source, original_name, stored_path, sha256, size_bytes, compression, archive_id, member_index, n)`;
    const params = (es: readonly NewLedgerEntry[]) => {
      const withBody = es.filter((e) => bodies.has(e.id));
      const parts = withBody.map((e) => bodies.get(e.id) as Buffer);
      // Where each body starts in their concatenation; substring() counts from 1.
      const starts: number[] = [];
      let at = 1;
      for (const b of parts) {
        starts.push(at);
        at += b.length;
      }
      return [
        es.map((e) => e.id), es.map((e) => e.source), es.map((e) => e.originalName), es.map((e) => e.storedPath), es.map((e) => e.sha256), es.map((e) => e.sizeBytes),
        withBody.map((e) => e.id), Buffer.concat(parts),
        es.map((e) => e.compression ?? null), es.map((e) => e.archiveId ?? null), es.map((e) => e.memberIndex ?? null),
        starts, parts.map((b) => b.length),
      ];
    };
    // The bodies of the rows the INSERT returns (a data-modifying CTE runs whether or not it is read). They
    // travel as one bytea parameter, which node-postgres sends as binary, cut apart by offset here: a bytea[]
    // goes as text, every byte as two hex digits that PostgreSQL then decodes.
    const storeBodies = `body AS (INSERT INTO ingest_payloads (file_id, body)
      SELECT b.id, substring($8::bytea FROM b.start FOR b.length) FROM unnest($7::uuid[], $12::int[], $13::int[]) AS b(id, start, length) JOIN created c ON c.id = b.id)`;
    const queued = new Set(
      rowsOf<{ id: string }>(
        await sql.query(
          `WITH created AS (
             INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, compression, archive_id, member_index, status)
             SELECT id, source, original_name, stored_path, sha256, size_bytes, compression, archive_id, member_index, 'queued' FROM (${input}) i ORDER BY sha256, n
             ON CONFLICT DO NOTHING RETURNING id), ${storeBodies}
           SELECT id FROM created`,
          params(entries),
        ),
      ).map((r) => r.id),
    );
    const rest = entries.filter((e) => !queued.has(e.id));
    const dups = new Map<string, string | null>();
    if (rest.length) {
      for (const r of rowsOf<{ id: string; duplicateOf: string | null }>(
        await sql.query(
          `WITH created AS (
             INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, compression, archive_id, member_index, status, duplicate_of, finished_at)
             SELECT i.id, i.source, i.original_name, i.stored_path, i.sha256, i.size_bytes, i.compression, i.archive_id, i.member_index, 'duplicate',
                    (SELECT l.id FROM ingest_files l WHERE l.sha256 = i.sha256 AND l.status IN ${LIVE} LIMIT 1), now()
             FROM (${input}) i ORDER BY n
             ON CONFLICT DO NOTHING RETURNING id, duplicate_of), ${storeBodies}
           SELECT id, duplicate_of AS "duplicateOf" FROM created`,
          params(rest),
        ),
      ))
        dups.set(r.id, r.duplicateOf);
    }
    return entries.map((e) =>
      queued.has(e.id) ? { id: e.id, status: 'queued', duplicateOf: null } : dups.has(e.id) ? { id: e.id, status: 'duplicate', duplicateOf: dups.get(e.id) ?? null } : { id: e.id, status: 'existing', duplicateOf: null },
    );
  }

  /**
   * Takes a queued (or interrupted) file for processing and counts the attempt. Returns null when the file
   * is already terminal (a redelivery after commit) or unknown. Waits at most `lockTimeoutMs` for a
   * replica that holds the row in its load transaction.
   */
  async startAttempt(id: string, lockTimeoutMs = 2000): Promise<IngestFile | null> {
    return withTransaction(this.ds, async (client) => {
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      const rows = rowsOf<IngestFile>(await client.query(
        `UPDATE ingest_files SET status = 'processing', attempts = attempts + 1, started_at = now(), updated_at = now()
         WHERE id = $1 AND status IN ('queued','processing') RETURNING ${COLUMNS}`,
        [id],
      ));
      return rows[0] ?? null;
    });
  }

  /**
   * startAttempt for up to `limit` queued rows unchanged for `olderThanMs`, oldest first, in one statement:
   * work taken from the ledger while JetStream does not deliver. Rows another process holds are skipped.
   */
  async startQueuedAttempts(olderThanMs: number, limit: number): Promise<IngestFile[]> {
    return rowsOf<IngestFile>(await this.ds.query(
      `UPDATE ingest_files SET status = 'processing', attempts = attempts + 1, started_at = now(), updated_at = now()
       WHERE id IN (SELECT id FROM ingest_files WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
                    ORDER BY created_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [olderThanMs, limit],
    ));
  }

  /** Locks the row for the length of the caller's load transaction; false when it is no longer `processing`. */
  async lockForLoad(sql: Sql, id: string): Promise<boolean> {
    const rows = rowsOf<{ status: string }>(await sql.query(`SELECT status FROM ingest_files WHERE id = $1 FOR UPDATE`, [id]));
    return rows[0]?.status === 'processing';
  }

  /**
   * Writes the terminal outcome; inside the load transaction so rows and ledger commit together.
   * clock_timestamp(), not now(): now() is the transaction's start, which would hide the load's duration.
   * rows_written and rows_written_by_table add up: a load counts the rows it wrote, and a replay finds its
   * earlier rows stored (unchanged, so not written again), which still count as the file's.
   */
  async recordOutcome(sql: Sql, id: string, o: FileOutcome): Promise<void> {
    // A file through a contract: its rows in the contract's table replace the count (see ContractOutcome).
    await sql.query(
      `UPDATE ingest_files SET status = $2, kind = $3, rows_total = $4, rows_loaded = $5, rows_rejected = $6,
         rows_written = coalesce($12::bigint, rows_written + $7), rows_written_by_table = ${addByTable('rows_written_by_table', '$9::jsonb')},
         contract_name = $10, contract_hash = $11,
         error = $8, finished_at = clock_timestamp(), updated_at = clock_timestamp()
       WHERE id = $1`,
      [
        id, o.status, o.kind, o.rowsTotal, o.rowsLoaded, o.rowsRejected, totalRows(o.rowsWritten), reasonJson(o.error), JSON.stringify(o.rowsWritten),
        o.contract?.name ?? null, o.contract?.hash ?? null, o.contract?.rows ?? null,
      ],
    );
  }

  /**
   * startAttempt for a batch, in one autocommitted statement. Rows another replica holds are skipped, never
   * waited for; terminal and unknown ids are left out. NO KEY UPDATE, like the UPDATE itself: a duplicate
   * being registered holds a KEY SHARE lock on its original (duplicate_of), which must not hide the row.
   */
  async startAttempts(ids: readonly string[]): Promise<IngestFile[]> {
    if (ids.length === 0) return [];
    return rowsOf<IngestFile>(await this.ds.query(
      `UPDATE ingest_files SET status = 'processing', attempts = attempts + 1, started_at = now(), updated_at = now()
       WHERE id IN (SELECT id FROM ingest_files WHERE id = ANY($1::uuid[]) AND status IN ('queued','processing') ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [ids],
    ));
  }

  /**
   * lockForLoad for a batch (in id order, so two batches never deadlock): the rows still `processing`, each
   * with its place in arrival order (created_at with microseconds), which latest-state tables compare.
   * `unattempted`: the rows never attempted (`queued`, no attempt counted) instead, which a batch loads without
   * counting the attempt first (see BatchProcessorService), their attempt counted with their outcome
   * (recordOutcomes, `firstAttempt`); rows another process holds are skipped, not waited for.
   */
  async lockManyForLoad(sql: Sql, ids: readonly string[], { unattempted = false }: { unattempted?: boolean } = {}): Promise<LockedForLoad[]> {
    if (ids.length === 0) return [];
    const rows = unattempted ? `status = 'queued' AND attempts = 0 ORDER BY id FOR NO KEY UPDATE SKIP LOCKED` : `status = 'processing' ORDER BY id FOR NO KEY UPDATE`;
    return rowsOf<LockedForLoad>(await sql.query(
      `SELECT id AS "fileId", ${CREATED_AT_US} AS "createdAt", original_name AS "originalName"
       FROM ingest_files WHERE id = ANY($1::uuid[]) AND ${rows}`,
      [ids],
    ));
  }

  /**
   * recordOutcome for a batch, in one statement inside its load transaction; returns what announcing the
   * finished rows takes. `firstAttempt`: rows locked `unattempted`, whose attempt (and start,
   * the transaction's) is counted here.
   */
  async recordOutcomes(sql: Sql, outcomes: ReadonlyArray<{ id: string; outcome: FileOutcome }>, opts: { firstAttempt?: boolean } = {}): Promise<FinishedRow[]> {
    if (outcomes.length === 0) return [];
    const col = <T>(f: (o: FileOutcome) => T) => outcomes.map((x) => f(x.outcome));
    const attempt = opts.firstAttempt ? `attempts = attempts + 1, started_at = now(),` : '';
    return rowsOf<FinishedRow>(await sql.query(
      `UPDATE ingest_files SET status = o.o_status, kind = o.o_kind, rows_total = o.o_total, rows_loaded = o.o_loaded,
         rows_rejected = o.o_rejected, rows_written = coalesce(o.o_contract_rows, rows_written + o.o_written),
         rows_written_by_table = ${addByTable('rows_written_by_table', 'o.o_by_table')}, error = o.o_error,
         contract_name = o.o_contract_name, contract_hash = o.o_contract_hash, ${attempt}
         finished_at = clock_timestamp(), updated_at = clock_timestamp()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::jsonb[], $9::jsonb[], $10::text[], $11::text[], $12::bigint[])
         AS o(o_id, o_status, o_kind, o_total, o_loaded, o_rejected, o_written, o_error, o_by_table, o_contract_name, o_contract_hash, o_contract_rows)
       WHERE id = o.o_id
       RETURNING ${FINISHED_COLUMNS}`,
      [
        outcomes.map((x) => x.id),
        col((o) => o.status),
        col((o) => o.kind),
        col((o) => o.rowsTotal),
        col((o) => o.rowsLoaded),
        col((o) => o.rowsRejected),
        col((o) => totalRows(o.rowsWritten)),
        col((o) => (reasonJson(o.error))),
        col((o) => JSON.stringify(o.rowsWritten)),
        col((o) => o.contract?.name ?? null),
        col((o) => o.contract?.hash ?? null),
        col((o) => o.contract?.rows ?? null),
      ],
    ));
  }

  /** Marks a file failed after its attempts ran out (poison file); no effect on a terminal row. */
  async markFailed(id: string, error: RejectReason): Promise<IngestFile | null> {
    const rows = rowsOf<IngestFile>(await this.ds.query(
      `UPDATE ingest_files SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
       WHERE id = $1 AND status IN ('queued','processing') RETURNING ${COLUMNS}`,
      [id, reasonJson(error)],
    ));
    return rows[0] ?? null;
  }

  async setStoredPath(id: string, storedPath: string): Promise<void> {
    await this.ds.query(`UPDATE ingest_files SET stored_path = $2 WHERE id = $1`, [id, storedPath]);
  }

  /**
   * Rows still waiting (queued or interrupted) whose last change is older than `olderThanMs`. Rows locked
   * by a processor's load transaction are being worked on and are skipped, never waited for.
   */
  async findStale(olderThanMs: number, limit = 500): Promise<IngestFile[]> {
    return rowsOf<IngestFile>(await this.ds.query(
      `SELECT ${COLUMNS} FROM ingest_files
       WHERE status IN ('queued','processing') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2
       FOR UPDATE SKIP LOCKED`,
      [olderThanMs, limit],
    ));
  }

  /** touch for many rows in one statement (rows another process holds right now are skipped). */
  async touchMany(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ds.query(
      `UPDATE ingest_files SET updated_at = now()
       WHERE id IN (SELECT id FROM ingest_files WHERE id = ANY($1::uuid[]) AND status IN ('queued','processing') ORDER BY id FOR UPDATE SKIP LOCKED)`,
      [ids],
    );
  }

  /** Touches a row so that a republished file is not republished again at once. */
  async touch(id: string): Promise<void> {
    await this.ds.query(
      `UPDATE ingest_files SET updated_at = now()
       WHERE id = (SELECT id FROM ingest_files WHERE id = $1 AND status IN ('queued','processing') FOR UPDATE SKIP LOCKED)`,
      [id],
    );
  }
}
