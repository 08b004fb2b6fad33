import { Injectable } from '@nestjs/common';
import { DATA_TABLES, type DataTable, FILE_STATUSES, type FileStatus, READINGS_TABLE, TERMINAL_STATUSES } from '@sluice/contracts';
import { lastMaintenanceRun, type MaintenanceRunSummary, oldestReading, type TableStorage, tableStorage } from '@sluice/db';
import { DataSource } from 'typeorm';
import { isoUs, toCount } from '../http/sql.util';
import { type ErrorFileDto, FINISHED_SHOWN, FIRST_ROW_ERRORS, IN_FLIGHT_SHOWN, SERIES_MINUTES, SERIES_STEP_S, THROUGHPUT_WINDOW_S, type ThroughputDto, type TraceFileDto } from './live.dto';

export interface LedgerTotals {
  byStatus: Record<FileStatus, number>;
  rowsLoaded: number;
  /** Rows of raw_sensor_data written. */
  readingsLoaded: number;
  /** Rows written to every data table together. */
  rowsWritten: number;
  /** Rows written per data table, every table present. */
  rowsWrittenByTable: Record<DataTable, number>;
  rowsRejected: number;
}

/** Sums of rows_written_by_table, one column per data table (`w_<table>`); the names are constants. */
const BY_TABLE_SUMS = DATA_TABLES.map((t) => `sum((rows_written_by_table->>'${t}')::bigint)::text AS w_${t}`).join(', ');

type TraceRow = Omit<TraceFileDto, 'rows_loaded' | 'rows_rejected' | 'wait_ms' | 'processing_ms' | 'total_ms'> &
  Record<'rows_loaded' | 'rows_rejected', string> &
  Record<'wait_ms' | 'processing_ms' | 'total_ms', number | null>;

const TRACE_COLUMNS = `f.id::text AS id, f.original_name, f.status, f.kind, f.attempts,
  f.rows_loaded::text AS rows_loaded, f.rows_rejected::text AS rows_rejected,
  ${isoUs('f.created_at')} AS created_at, ${isoUs('f.started_at')} AS started_at, ${isoUs('f.finished_at')} AS finished_at,
  round(extract(epoch FROM (COALESCE(f.started_at, CASE WHEN f.status = 'queued' THEN clock_timestamp() END) - f.queued_at)) * 1000)::float8 AS wait_ms,
  round(extract(epoch FROM (COALESCE(f.finished_at, CASE WHEN f.status = 'processing' THEN clock_timestamp() END) - f.started_at)) * 1000)::float8 AS processing_ms,
  round(extract(epoch FROM (COALESCE(f.finished_at, clock_timestamp()) - f.queued_at)) * 1000)::float8 AS total_ms`;

const toTrace = (r: TraceRow): TraceFileDto => ({ ...r, rows_loaded: toCount(r.rows_loaded), rows_rejected: toCount(r.rows_rejected) });

/**
 * Read-side SQL for the live views. Queries that pick "recent" rows go through the (status, updated_at)
 * index one status at a time, so their cost does not grow with the ledger.
 */
@Injectable()
export class LiveRepository {
  constructor(private readonly db: DataSource) {}

  async totals(): Promise<LedgerTotals> {
    const rows: ({ status: FileStatus; n: string; rows_loaded: string; rows_written: string; rows_rejected: string } & Record<string, string | null>)[] = await this.db.query(
      `SELECT status, count(*)::text AS n, sum(rows_loaded)::text AS rows_loaded, sum(rows_written)::text AS rows_written,
              sum(rows_rejected)::text AS rows_rejected, ${BY_TABLE_SUMS}
         FROM ingest_files GROUP BY status`,
    );
    const byStatus = Object.fromEntries(FILE_STATUSES.map((s) => [s, 0])) as Record<FileStatus, number>;
    const rowsWrittenByTable = Object.fromEntries(DATA_TABLES.map((t) => [t, 0])) as Record<DataTable, number>;
    let rowsLoaded = 0;
    let rowsWritten = 0;
    let rowsRejected = 0;
    for (const r of rows) {
      byStatus[r.status] = toCount(r.n);
      rowsLoaded += toCount(r.rows_loaded);
      rowsWritten += toCount(r.rows_written);
      rowsRejected += toCount(r.rows_rejected);
      for (const t of DATA_TABLES) rowsWrittenByTable[t] += toCount(r[`w_${t}`] ?? '0');
    }
    return { byStatus, rowsLoaded, readingsLoaded: rowsWrittenByTable[READINGS_TABLE], rowsWritten, rowsWrittenByTable, rowsRejected };
  }

  /** Ledger rows by the first folder of their stored path (processing/, processed/, quarantine/ …). */
  async byStoredFolder(): Promise<Record<string, number>> {
    const rows: { folder: string; n: string }[] = await this.db.query(
      `SELECT split_part(stored_path, '/', 1) AS folder, count(*)::text AS n FROM ingest_files GROUP BY 1 ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.folder, toCount(r.n)]));
  }

  /**
   * Records loaded per second: over the last minute, and as a series of buckets over the last minutes
   * (zero-filled). A file counts when it finishes. Only processed files load rows. Records, not readings:
   * a replay counts the records it loaded again, while rows_written keeps the earlier run's rows (the
   * replay writes none of them anew), so rows written would count old work as new.
   */
  async throughput(): Promise<Required<ThroughputDto> & { at: string }> {
    const rows: { t: string; records: string; recent: string; now: string }[] = await this.db.query(
      `WITH done AS (
         SELECT finished_at, rows_loaded FROM ingest_files
          WHERE status = 'processed'
            AND updated_at >= now() - make_interval(mins => $1) AND finished_at >= now() - make_interval(mins => $1)
       ), buckets AS (
         SELECT to_timestamp(floor(extract(epoch FROM b) / $2) * $2) AS t
           FROM generate_series(now() - make_interval(mins => $1) + make_interval(secs => $2), now(), make_interval(secs => $2)) b
       )
       SELECT ${isoUs('b.t')} AS t, ${isoUs('now()')} AS now,
              COALESCE((SELECT sum(d.rows_loaded) FROM done d WHERE d.finished_at >= b.t AND d.finished_at < b.t + make_interval(secs => $2)), 0)::text AS records,
              COALESCE((SELECT sum(d.rows_loaded) FROM done d WHERE d.finished_at >= now() - make_interval(secs => $3)), 0)::text AS recent
         FROM buckets b ORDER BY b.t`,
      [SERIES_MINUTES, SERIES_STEP_S, THROUGHPUT_WINDOW_S],
    );
    const recent = rows.length > 0 ? toCount(rows[0].recent) : 0;
    return {
      rows_per_s: Math.round((recent / THROUGHPUT_WINDOW_S) * 10) / 10,
      window_s: THROUGHPUT_WINDOW_S,
      series: rows.map((r) => ({ t: r.t, rows_per_s: Math.round((toCount(r.records) / SERIES_STEP_S) * 10) / 10 })),
      at: rows[0].now,
    };
  }

  async inFlight(): Promise<TraceFileDto[]> {
    const rows: TraceRow[] = await this.db.query(
      `SELECT ${TRACE_COLUMNS} FROM ingest_files f WHERE f.status IN ('queued', 'processing') ORDER BY f.created_at, f.id LIMIT $1`,
      [IN_FLIGHT_SHOWN],
    );
    return rows.map(toTrace);
  }

  /** The newest terminal rows: the top few of each terminal status by updated_at, then merged. */
  async recentlyFinished(): Promise<TraceFileDto[]> {
    const rows: TraceRow[] = await this.db.query(
      `SELECT ${TRACE_COLUMNS}
         FROM unnest($1::text[]) s(status)
         CROSS JOIN LATERAL (SELECT * FROM ingest_files i WHERE i.status = s.status ORDER BY i.updated_at DESC LIMIT $2) f
        ORDER BY f.finished_at DESC NULLS LAST, f.updated_at DESC, f.id
        LIMIT $2`,
      [TERMINAL_STATUSES, FINISHED_SHOWN],
    );
    return rows.map(toTrace);
  }

  async recentErrors(limit: number): Promise<ErrorFileDto[]> {
    const rows: (Omit<ErrorFileDto, 'rows_rejected'> & { rows_rejected: string })[] = await this.db.query(
      `SELECT f.id::text AS id, f.original_name, f.status, f.kind, f.error, f.rows_rejected::text AS rows_rejected, f.stored_path,
              ${isoUs('COALESCE(f.finished_at, f.updated_at)')} AS at,
              COALESCE((SELECT json_agg(json_build_object('line', e.line, 'column', e."column", 'rule', e.rule, 'message', e.message) ORDER BY e.line NULLS LAST, e.id)
                          FROM (SELECT * FROM ingest_errors ie WHERE ie.file_id = f.id ORDER BY ie.line NULLS LAST, ie.id LIMIT $3) e), '[]'::json) AS first_row_errors
         FROM unnest($1::text[]) s(status)
         CROSS JOIN LATERAL (SELECT * FROM ingest_files i WHERE i.status = s.status ORDER BY i.updated_at DESC LIMIT $2) f
        ORDER BY f.updated_at DESC, f.id
        LIMIT $2`,
      [['quarantined', 'failed'], limit, FIRST_ROW_ERRORS],
    );
    return rows.map((r) => ({ ...r, rows_rejected: toCount(r.rows_rejected) }));
  }

  /** Table sizes from the catalog, the oldest reading kept and the latest maintenance run. */
  async storage(): Promise<{ tables: TableStorage[]; oldestReading: string | null; lastRun: MaintenanceRunSummary | null }> {
    const [tables, oldest, lastRun] = await Promise.all([tableStorage(this.db), oldestReading(this.db), lastMaintenanceRun(this.db)]);
    return { tables, oldestReading: oldest, lastRun };
  }
}
