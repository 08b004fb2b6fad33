import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ensureDatabase, runMigrations } from '@sluice/db';

/** Server that test databases are created on (trust auth locally; override with TEST_PG_URL). */
export const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export function assertTestDatabaseUrl(url: string): void {
  const name = new URL(url).pathname.slice(1);
  if (!name.includes('test')) throw new Error(`refusing to run tests against database "${name}": its name must contain "test"`);
}

/** A fresh, migrated database of its own for one suite; dropped (with its connections) by drop(). */
export async function createTestDatabase(label = 'it', serverUrl = TEST_PG_URL): Promise<TestDatabase> {
  const name = `sluice_test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  assertTestDatabaseUrl(dbUrl);
  await ensureDatabase(dbUrl);
  await runMigrations(dbUrl);
  return {
    url: dbUrl,
    name,
    async drop() {
      const admin = new Client({ connectionString: serverUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
