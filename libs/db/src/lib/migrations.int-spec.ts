import 'reflect-metadata';
import { Client } from 'pg';
// Not @sluice/testing: it builds on this lib.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
import { ensureDatabase, revertLastMigration, runMigrations } from '../lib/database';
import { MIGRATIONS } from './data-source';

const TABLES = ['aggregated_metrics', 'detection_events', 'ingest_errors', 'ingest_files', 'ingest_idempotency_keys', 'ingest_payloads', 'log_lines', 'measurements', 'raw_sensor_data', 's3_objects', 's3_source_checkpoints', 'sensors', 'vehicles_status'];

describe('migrations', () => {
  const name = `sluice_test_migrations_${process.pid}`;
  const url = Object.assign(new URL(TEST_PG_URL), { pathname: `/${name}` }).toString();

  async function tables(): Promise<string[]> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('sluice_migrations', 'typeorm_metadata') ORDER BY 1`);
      return rows.map((r) => r.t);
    } finally {
      await c.end();
    }
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

  it('refuses a database name that is not a plain identifier', async () => {
    await expect(ensureDatabase(Object.assign(new URL(TEST_PG_URL), { pathname: '/bad";drop' }).toString())).rejects.toThrow(/plain identifier/);
  });
});
