import 'reflect-metadata';
import { Client } from 'pg';
// Not @sluice/testing: it builds on this lib.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
import { ensureDatabase, revertLastMigration, runMigrations } from '../lib/database';
import { MIGRATIONS } from './data-source';

const TABLES = ['aggregated_metrics', 'contract_versions', 'dataset_ddl', 'detection_events', 'ingest_errors', 'ingest_files', 'ingest_idempotency_keys', 'ingest_payloads', 'log_lines', 'maintenance_runs', 'measurements', 'raw_sensor_data', 's3_objects', 's3_source_checkpoints', 'sensors', 'vehicles_status'];

describe('migrations', () => {
  const name = `sluice_test_migrations_${process.pid}`;
  const url = Object.assign(new URL(TEST_PG_URL), { pathname: `/${name}` }).toString();

  async function tables(): Promise<string[]> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      // Partitions are not tables of their own here.
      const { rows } = await c.query<{ t: string }>(
        `SELECT relname AS t FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
            AND relname NOT IN ('sluice_migrations', 'typeorm_metadata') ORDER BY 1`,
      );
      return rows.map((r) => r.t);
    } finally {
      await c.end();
    }
  }

  /** Reverts the newest migrations down to and including `name` (later ones keep being added); returns their names, oldest first. */
  async function revertThrough(name: string): Promise<string[]> {
    const from = MIGRATIONS.findIndex((m) => m.name === name);
    for (let i = 0; i < MIGRATIONS.length - from; i++) await revertLastMigration(url);
    return MIGRATIONS.slice(from).map((m) => m.name);
  }

  afterAll(async () => {
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });

  it('creates the database once, applies every migration, reverts and re-applies them', async () => {
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
    expect(await runMigrations(url)).toHaveLength(MIGRATIONS.length);
    expect(await runMigrations(url)).toEqual([]);
    expect(await tables()).toEqual(TABLES);
    for (let i = 0; i < MIGRATIONS.length; i++) await revertLastMigration(url);
    expect(await tables()).toEqual([]);
    expect(await runMigrations(url)).toHaveLength(MIGRATIONS.length);
    expect(await tables()).toEqual(TABLES);
  });

  it('renames readings_loaded to rows_written, keeping its values, and says which tables they are in', async () => {
    await runMigrations(url);
    await revertThrough('RowsWritten1765000000000');
    const c = new Client({ connectionString: url });
    await c.connect();
    const ids = { csv: '00000000-0000-4000-8000-000000000001', log: '00000000-0000-4000-8000-000000000002', ndjson: '00000000-0000-4000-8000-000000000003', zip: '00000000-0000-4000-8000-000000000004', refused: '00000000-0000-4000-8000-000000000005' };
    try {
      const file = (id: string, kind: string | null, status: string, readings: number) =>
        c.query(
          `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, readings_loaded)
           VALUES ($1::uuid, 'dropzone', $1::text, $1::text, md5($1::text) || md5($1::text), 1, $2, $3, $4)`,
          [id, kind, status, readings],
        );
      await file(ids.csv, 'sensor_wide_csv', 'processed', 14);
      await file(ids.log, 'log', 'processed', 4);
      await file(ids.ndjson, 'ndjson', 'processed', 4);
      await file(ids.zip, 'zip_archive', 'processed', 0);
      await file(ids.refused, null, 'quarantined', 0);
      // The NDJSON file's rows: two readings and a measurement still its own (a fourth row a later file changed).
      await c.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, now(), 1, $1), (1, now() - interval '1 s', 2, $1)`, [ids.ndjson]);
      await c.query(`INSERT INTO measurements (timestamp_utc, mean, std_dev, sample_count, file_id, file_created_at) VALUES (now(), 1, 0, 1, $1, now())`, [ids.ndjson]);
    } finally {
      await c.end();
    }
    expect(await runMigrations(url)).toEqual(MIGRATIONS.slice(MIGRATIONS.findIndex((m) => m.name === 'RowsWritten1765000000000')).map((m) => m.name));
    const after = new Client({ connectionString: url });
    await after.connect();
    try {
      const { rows } = await after.query(`SELECT id, rows_written::int AS n, rows_written_by_table AS t FROM ingest_files ORDER BY id`);
      expect(rows).toEqual([
        { id: ids.csv, n: 14, t: { raw_sensor_data: 14 } },
        { id: ids.log, n: 4, t: { log_lines: 4 } },
        { id: ids.ndjson, n: 4, t: { raw_sensor_data: 2, measurements: 1 } },
        { id: ids.zip, n: 0, t: {} },
        { id: ids.refused, n: 0, t: {} },
      ]);
    } finally {
      await after.end();
    }
  });

  it('adds expired_at to the ledger, empty for the rows already there, and the indexes the retention sweeps read', async () => {
    await runMigrations(url);
    const reverted = await revertThrough('ExpiredFiles1765200000000');
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, finished_at)
         VALUES ('00000000-0000-4000-8000-0000000000e1', 'dropzone', 'old.csv', 'processed/old.csv', repeat('e', 64), 1, 'processed', now())`,
      );
      expect(await runMigrations(url)).toEqual(reverted);
      const { rows } = await c.query(`SELECT count(*)::int AS n, count(expired_at)::int AS expired FROM ingest_files`);
      expect(rows[0].n).toBeGreaterThan(0);
      expect(rows[0].expired).toBe(0);
      const indexes = await c.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'ingest_files' AND indexname = ANY($1) ORDER BY 1`, [
        ['ingest_files_duplicate_of_idx', 'ingest_files_finished_idx', 'ingest_files_unexpired_idx'],
      ]);
      expect(indexes.rows.map((r) => r.name)).toEqual(['ingest_files_duplicate_of_idx', 'ingest_files_finished_idx', 'ingest_files_unexpired_idx']);
    } finally {
      await c.end();
    }
  });

  it('records contract versions and the DDL of their tables, and ties a ledger row to both a name and a hash or neither', async () => {
    await runMigrations(url);
    const reverted = await revertThrough('ContractVersions1765400000000');
    const c = new Client({ connectionString: url });
    await c.connect();
    const hash = 'c'.repeat(64);
    const ledgerColumns = async () =>
      (await c.query<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'ingest_files' AND column_name LIKE 'contract%' ORDER BY 1`)).rows.map((r) => r.name);
    try {
      expect(await ledgerColumns()).toEqual([]);
      await c.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status)
         VALUES ('00000000-0000-4000-8000-0000000000c1', 'dropzone', 'before.csv', 'processed/before.csv', repeat('c', 64), 1, 'processed')`,
      );
      expect(await runMigrations(url)).toEqual(reverted);
      expect(await ledgerColumns()).toEqual(['contract_hash', 'contract_name']);
      const { rows } = await c.query(`SELECT contract_name, contract_hash FROM ingest_files WHERE id = '00000000-0000-4000-8000-0000000000c1'`);
      expect(rows).toEqual([{ contract_name: null, contract_hash: null }]);

      await c.query(`INSERT INTO contract_versions (name, hash, text) VALUES ('weather', $1, 'name: weather')`, [hash]);
      await c.query(`INSERT INTO dataset_ddl (contract_name, contract_hash, statement) VALUES ('weather', $1, 'CREATE SCHEMA IF NOT EXISTS "datasets"')`, [hash]);
      await c.query(`UPDATE ingest_files SET contract_name = 'weather', contract_hash = $1`, [hash]);
      await expect(c.query(`UPDATE ingest_files SET contract_hash = NULL`)).rejects.toThrow(/ingest_files_contract_both_ck/);
      await expect(c.query(`UPDATE ingest_files SET contract_hash = $1`, ['d'.repeat(64)])).rejects.toThrow(/ingest_files_contract_fk/);
      await expect(c.query(`INSERT INTO contract_versions (name, hash, text) VALUES ('weather', 'not-a-sha256', '')`)).rejects.toThrow(/check constraint/);
      await c.query(`UPDATE ingest_files SET contract_name = NULL, contract_hash = NULL`);
      await c.query(`DELETE FROM dataset_ddl`);
      await c.query(`DELETE FROM contract_versions`);

      expect(await revertThrough('ContractVersions1765400000000')).toEqual(reverted);
      expect(await ledgerColumns()).toEqual([]);
      expect(await tables()).toEqual(TABLES.filter((t) => t !== 'contract_versions' && t !== 'dataset_ddl'));
      expect(await runMigrations(url)).toEqual(reverted);
      expect(await tables()).toEqual(TABLES);
    } finally {
      await c.end();
    }
  });

  it('compresses payload bodies with lz4, and reads back those stored before with pglz', async () => {
    await runMigrations(url);
    const reverted = await revertThrough('PayloadCompression1765500000000');
    const c = new Client({ connectionString: url });
    await c.connect();
    const method = async () => (await c.query<{ m: string }>(`SELECT attcompression AS m FROM pg_attribute WHERE attrelid = 'ingest_payloads'::regclass AND attname = 'body'`)).rows[0].m;
    // Compressible and over the ~2 KB at which PostgreSQL compresses a row.
    const body = (n: number) => Buffer.from(JSON.stringify({ time_stamp: '2031-01-01T00:00:00Z', data: Array.from({ length: 400 }, (_, i) => i + n / 10) }));
    const stored = async (id: string) => (await c.query<{ body: Buffer; m: string | null }>(`SELECT body, pg_column_compression(body) AS m FROM ingest_payloads WHERE file_id = $1`, [id])).rows[0];
    const before = '00000000-0000-4000-8000-0000000000b1';
    const after = '00000000-0000-4000-8000-0000000000b2';
    try {
      expect(await method()).toBe('');
      await c.query(`INSERT INTO ingest_payloads (file_id, body) VALUES ($1, $2)`, [before, body(1)]);
      expect(await runMigrations(url)).toEqual(reverted);
      expect(await method()).toBe('l');
      await c.query(`INSERT INTO ingest_payloads (file_id, body) VALUES ($1, $2)`, [after, body(2)]);
      expect(await stored(before)).toEqual({ body: body(1), m: 'pglz' });
      expect(await stored(after)).toEqual({ body: body(2), m: 'lz4' });
      expect(await revertThrough('PayloadCompression1765500000000')).toEqual(reverted);
      expect(await method()).toBe('');
      expect((await stored(after)).body).toEqual(body(2));
      expect(await runMigrations(url)).toEqual(reverted);
    } finally {
      await c.query(`DELETE FROM ingest_payloads WHERE file_id = ANY($1::uuid[])`, [[before, after]]);
      await c.end();
    }
  });

  it('refuses a database name that is not a plain identifier', async () => {
    await expect(ensureDatabase(Object.assign(new URL(TEST_PG_URL), { pathname: '/bad";drop' }).toString())).rejects.toThrow(/plain identifier/);
  });
});
