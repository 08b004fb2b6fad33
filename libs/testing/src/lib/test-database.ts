import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

const MIGRATIONS_DIR = join(__dirname, '../../../db/src/lib/migrations');
const TEMPLATE_PREFIX = 'sluice_test_template_';
// Advisory lock on the server: held shared while a suite copies a template, exclusive while one is built or dropped.
const TEMPLATE_LOCK = 7_351_820_464;

/** Hash of the migration sources: a changed or added migration names another template. */
function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) hash.update(file).update('\0').update(readFileSync(join(MIGRATIONS_DIR, file))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function exists(admin: Client, name: string): Promise<boolean> {
  return ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
}

/**
 * Migrates a database once for all suites against a server: built under another name and renamed when complete
 * (a killed build leaves no half-migrated template), closed to connections so that copies of it never wait for one.
 * Templates of other migrations are dropped on the way.
 */
async function buildTemplate(admin: Client, serverUrl: string, template: string): Promise<void> {
  await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
  try {
    if (await exists(admin, template)) return;
    const stale = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2`, [TEMPLATE_PREFIX, template]);
    for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    const building = `${template}_building`;
    await ensureDatabase(databaseUrl(serverUrl, building));
    await runMigrations(databaseUrl(serverUrl, building));
    await admin.query(`ALTER DATABASE "${building}" WITH ALLOW_CONNECTIONS false`);
    await admin.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
  }
}

/** A fresh, migrated database of its own for one suite (a copy of the migrated template); dropped (with its connections) by drop(). */
export async function createTestDatabase(label = 'it', serverUrl = TEST_PG_URL): Promise<TestDatabase> {
  const name = `sluice_test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const dbUrl = databaseUrl(serverUrl, name);
  assertTestDatabaseUrl(dbUrl);
  const template = `${TEMPLATE_PREFIX}${migrationsHash()}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    // Another checkout's migrations may drop this template between its build and the copy: build it again.
    for (;;) {
      await admin.query('SELECT pg_advisory_lock_shared($1)', [TEMPLATE_LOCK]);
      try {
        if (await exists(admin, template)) {
          await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
          break;
        }
      } finally {
        await admin.query('SELECT pg_advisory_unlock_shared($1)', [TEMPLATE_LOCK]);
      }
      await buildTemplate(admin, serverUrl, template);
    }
  } finally {
    await admin.end();
  }
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
