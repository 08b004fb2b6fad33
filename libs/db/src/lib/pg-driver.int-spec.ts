import 'reflect-metadata';
import { Client } from 'pg';
import type { PoolClient } from 'pg';
import { createDataSource } from './data-source';
// Not @sluice/testing: it builds on this lib.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('pgDriver', () => {
  it('a checked-out connection whose backend is terminated fails its next query instead of ending the process', async () => {
    const ds = createDataSource(TEST_PG_URL, { poolSize: 2, applicationName: 'sluice-pg-driver-spec' });
    await ds.initialize();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    const runner = ds.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      await client.query('BEGIN');
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      // pg's pool stops listening on a client it hands out; without a listener of ours its 'error' is thrown.
      expect(client.listenerCount('error')).toBeGreaterThan(0);
      // Between two queries of an open transaction, as while a load parses its file.
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await ended;
      await expect(client.query('SELECT 1')).rejects.toThrow();
      await runner.release();
      // The pool goes on with new connections.
      expect(await ds.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    } finally {
      if (!runner.isReleased) await runner.release().catch(() => undefined);
      await admin.end();
      await ds.destroy();
    }
  });
});
