import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';

/** Creates the database named in `url` if it does not exist (connects to the `postgres` maintenance db). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) throw new Error(`database name "${name}" is not a plain identifier`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } catch (e) {
    // Another process created it between the check and CREATE.
    if ((e as { code?: string }).code === '42P04') return false;
    throw e;
  } finally {
    await client.end();
  }
}

/** Applies pending migrations; returns their names. */
export async function runMigrations(url: string): Promise<string[]> {
  const ds: DataSource = createDataSource(url, { poolSize: 1, applicationName: 'sluice-migrate' });
  await ds.initialize();
  try {
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

export async function revertLastMigration(url: string): Promise<void> {
  const ds = createDataSource(url, { poolSize: 1, applicationName: 'sluice-migrate' });
  await ds.initialize();
  try {
    await ds.undoLastMigration({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}
