/**
 * What the data takes on disk, read from the catalog so that it costs the same on a table of billions of rows
 * as on an empty one, and answers alike whether a table is range-partitioned or not. `/stats`, the dashboard
 * and `sluice status` all read it here.
 */

/** The tables whose size is reported, in the order they are shown. */
export const STORAGE_TABLES = [
  'raw_sensor_data',
  'aggregated_metrics',
  'measurements',
  'vehicles_status',
  'detection_events',
  'log_lines',
  'ingest_files',
  'ingest_errors',
  'ingest_payloads',
] as const;
export type StorageTable = (typeof STORAGE_TABLES)[number];

export interface TableStorage {
  table: StorageTable;
  /** Bytes on disk: heap, indexes and TOAST, of every partition (0 when the table does not exist). */
  bytes: number;
  /** Partitions of a partitioned table (leaves, the default one included); 0 when the table is not partitioned. */
  partitions: number;
  /** Rows as the planner's statistics estimate them (not counted: counting scans). */
  estimated_rows: number;
}

export interface MaintenanceRunSummary {
  started_at: string;
  finished_at: string;
  dry_run: boolean;
  trigger: string;
  bytes_reclaimed: number;
  error: string | null;
}

/** The few query methods of a DataSource, a QueryRunner or a pg client this module needs. */
export interface SqlQueryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

const rows = <T>(r: unknown): T[] => (Array.isArray(r) ? (r as T[]) : (((r as { rows?: T[] }).rows ?? []) as T[]));
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Size, partitions and estimated rows per table. `pg_partition_tree` gives a partitioned table's leaves (and
 * nothing for a plain table, which is its own leaf); `pg_total_relation_size` of each leaf holds its indexes and TOAST (a partitioned
 * table's own indexes have no storage). The estimate is `reltuples` once the table was analyzed, else the
 * live tuples the statistics counted.
 */
export async function tableStorage(db: SqlQueryable): Promise<TableStorage[]> {
  const result: { name: StorageTable; bytes: string | null; partitions: number; estimated_rows: string | null }[] = rows(
    await db.query(
      `WITH t AS (SELECT name, n, to_regclass(name) AS rel FROM unnest($1::text[]) WITH ORDINALITY u(name, n)),
            leaf AS (
              SELECT t.name, p.relid FROM t CROSS JOIN LATERAL pg_partition_tree(t.rel) p WHERE p.isleaf
              UNION ALL
              SELECT t.name, t.rel FROM t WHERE t.rel IS NOT NULL AND NOT EXISTS (SELECT FROM pg_partition_tree(t.rel))
            )
       SELECT t.name,
              sum(pg_total_relation_size(l.relid))::bigint::text AS bytes,
              count(l.relid) FILTER (WHERE l.relid <> t.rel)::int AS partitions,
              sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE COALESCE(s.n_live_tup, 0) END)::bigint::text AS estimated_rows
         FROM t
         LEFT JOIN leaf l ON l.name = t.name
         LEFT JOIN pg_class c ON c.oid = l.relid
         LEFT JOIN pg_stat_user_tables s ON s.relid = l.relid
        GROUP BY t.name, t.n, t.rel
        ORDER BY t.n`,
      [STORAGE_TABLES],
    ),
  );
  return result.map((r) => ({ table: r.name, bytes: Number(r.bytes ?? 0), partitions: r.partitions, estimated_rows: Number(r.estimated_rows ?? 0) }));
}

/** The oldest reading of one table, or of one partition alone (`ONLY`), by one key probe per sensor. */
async function oldestIn(db: SqlQueryable, table: string, only: boolean): Promise<string | null> {
  const [r] = rows<{ oldest: string | null }>(
    await db.query(
      `SELECT ${iso('min(f.ts)')} AS oldest
         FROM sensors s CROSS JOIN LATERAL (SELECT r.ts FROM ${only ? 'ONLY ' : ''}${table} r WHERE r.sensor_id = s.id ORDER BY r.ts LIMIT 1) f`,
    ),
  );
  return r?.oldest ?? null;
}

/**
 * The oldest reading kept, or null when there is none, without reading the table: raw_sensor_data has no
 * index on `ts` alone, so `min(ts)` reads every row (3M readings: 25,000 pages, 815 ms). One probe of the
 * (sensor_id, ts) key per sensor reads a few index pages each instead. On a partitioned table a probe of the
 * parent would open every partition per sensor (a merge append: 38,000 pages for 1,000 sensors and 13
 * partitions), so the catalog gives the range partitions by lower bound and only the lowest non-empty one is
 * probed (3,000 pages, 19 ms warm), with the default partition, which holds whatever no range took (older
 * readings among them). docs/architecture.md has the measurements.
 */
export async function oldestReading(db: SqlQueryable): Promise<string | null> {
  const leaves = rows<{ leaf: string; is_default: boolean }>(
    await db.query(
      `SELECT c.oid::regclass::text AS leaf, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default
         FROM pg_partition_tree(to_regclass('raw_sensor_data')) p JOIN pg_class c ON c.oid = p.relid
        WHERE p.isleaf
        ORDER BY (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz NULLS FIRST`,
    ),
  );
  if (leaves.length === 0) return oldestIn(db, 'raw_sensor_data', false);
  const found: string[] = [];
  for (const l of leaves.filter((l) => l.is_default)) {
    const oldest = await oldestIn(db, l.leaf, true);
    if (oldest) found.push(oldest);
  }
  for (const l of leaves.filter((l) => !l.is_default)) {
    const oldest = await oldestIn(db, l.leaf, true);
    if (oldest) {
      found.push(oldest);
      break;
    }
  }
  // ISO-8601 UTC text of one format sorts as time does.
  return found.sort()[0] ?? null;
}

/** The latest finished run of the partition and retention job, or null before the first. */
export async function lastMaintenanceRun(db: SqlQueryable): Promise<MaintenanceRunSummary | null> {
  const [r] = rows<Omit<MaintenanceRunSummary, 'bytes_reclaimed'> & { bytes_reclaimed: string }>(
    await db.query(
      `SELECT ${iso('started_at')} AS started_at, ${iso('finished_at')} AS finished_at, dry_run, trigger, bytes_reclaimed::text AS bytes_reclaimed, error
         FROM maintenance_runs ORDER BY finished_at DESC, id DESC LIMIT 1`,
    ),
  );
  return r ? { ...r, bytes_reclaimed: Number(r.bytes_reclaimed) } : null;
}
