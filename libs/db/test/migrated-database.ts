import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../src/lib/data-source';
import { ensureDatabase, runMigrations } from '../src/lib/database';

// Not @sluice/testing: it builds on this lib.
export const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of its own for one suite of this lib, migrated, with a DataSource on it; `drop()` removes it. */
export async function migratedDatabase(label: string): Promise<{ url: string; ds: DataSource; drop(): Promise<void> }> {
  const name = `sluice_test_${label}_${process.pid}`;
  const url = Object.assign(new URL(TEST_PG_URL), { pathname: `/${name}` }).toString();
  await ensureDatabase(url);
  await runMigrations(url);
  const ds = createDataSource(url, { poolSize: 4 });
  await ds.initialize();
  return {
    url,
    ds,
    async drop() {
      await ds.destroy();
      const admin = new Client({ connectionString: TEST_PG_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
