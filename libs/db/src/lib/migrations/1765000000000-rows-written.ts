import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The one table each kind loads into (NDJSON lines are routed line by line, to any of four). */
const KIND_TABLES: ReadonlyArray<[kind: string, table: string]> = [
  ['sensor_wide_csv', 'raw_sensor_data'],
  ['sensor_long_csv', 'raw_sensor_data'],
  ['log', 'log_lines'],
  ['measurement', 'measurements'],
  ['vehicle_status', 'vehicles_status'],
  ['detections', 'detection_events'],
];
const NDJSON_TABLES = ['raw_sensor_data', 'measurements', 'vehicles_status', 'detection_events'];

/**
 * `ingest_files.readings_loaded` counted the rows a file wrote to every data table, readings or not: it is
 * renamed `rows_written`, its values kept, and `rows_written_by_table` (`{"raw_sensor_data": 7}`) says which
 * tables those rows are in, so that readings are counted as readings and other rows under their own names.
 * Rows already in the ledger: a file of a kind that loads one table has all its rows there; an NDJSON file
 * is split by the rows that still carry its id (rows a later file has since changed are in its rows_written
 * but in no table's count).
 */
export class RowsWritten1765000000000 implements MigrationInterface {
  name = 'RowsWritten1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files RENAME COLUMN readings_loaded TO rows_written`);
    await q.query(`ALTER TABLE ingest_files ADD COLUMN rows_written_by_table jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await q.query(
      `UPDATE ingest_files f SET rows_written_by_table = jsonb_build_object(k.tbl, f.rows_written)
         FROM unnest($1::text[], $2::text[]) AS k(kind, tbl)
        WHERE f.kind = k.kind AND f.rows_written > 0`,
      [KIND_TABLES.map(([kind]) => kind), KIND_TABLES.map(([, table]) => table)],
    );
    const [ndjson] = (await q.query(`SELECT EXISTS (SELECT 1 FROM ingest_files WHERE kind = 'ndjson' AND rows_written > 0) AS any`)) as { any: boolean }[];
    if (!ndjson?.any) return;
    const owned = NDJSON_TABLES.map(
      (t) => `SELECT '${t}' AS tbl, file_id, count(*) AS n FROM ${t} WHERE file_id IN (SELECT id FROM nd) GROUP BY file_id`,
    ).join(' UNION ALL ');
    await q.query(
      `WITH nd AS (SELECT id FROM ingest_files WHERE kind = 'ndjson' AND rows_written > 0),
            owned AS (${owned})
       UPDATE ingest_files f SET rows_written_by_table = o.counts
         FROM (SELECT file_id, jsonb_object_agg(tbl, n) AS counts FROM owned GROUP BY file_id) o
        WHERE f.id = o.file_id`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files DROP COLUMN rows_written_by_table`);
    await q.query(`ALTER TABLE ingest_files RENAME COLUMN rows_written TO readings_loaded`);
  }
}
