import 'reflect-metadata';
import { Client } from 'pg';
import type { PoolClient } from 'pg';
import type { Socket } from 'node:net';
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
      // Listening first: the connection may end before the admin's answer arrives.
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      // Between two queries of an open transaction, as while a load parses its file.
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
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

  it('asks the server to notice a client that is gone: keepalives, and a statement of a closed connection ended at once', async () => {
    const ds = createDataSource(TEST_PG_URL, { poolSize: 2, applicationName: 'sluice-pg-driver-spec' });
    await ds.initialize();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    const runner = ds.createQueryRunner();
    const key = Math.floor(Math.random() * 1e9);
    try {
      const client = (await runner.connect()) as PoolClient;
      const setting = async (name: string) => (await client.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0].v;
      expect([await setting('tcp_keepalives_idle'), await setting('tcp_keepalives_interval'), await setting('tcp_keepalives_count')]).toEqual(['30', '10', '3']);
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      // The backend waits for a lock, as a load does behind another transaction, when its client dies.
      await admin.query('SELECT pg_advisory_lock($1)', [key]);
      const waiting = client.query('SELECT pg_advisory_xact_lock($1)', [key]).catch(() => undefined);
      const backend = async () => (await admin.query<{ wait_event_type: string | null }>('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0];
      await waitUntil(async () => (await backend())?.wait_event_type === 'Lock');
      // The client's process is gone: the kernel closes its socket.
      (client as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
      await waiting;
      // Without the check the backend would wait, holding whatever it holds, until the lock above is released.
      await waitUntil(async () => (await backend()) === undefined);
      expect(await backend()).toBeUndefined();
    } finally {
      if (!runner.isReleased) await runner.release().catch(() => undefined);
      await admin.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await admin.end();
      await ds.destroy();
    }
  });
});

/** Polls until `done` (the test's own timeout ends a wait that never does). */
async function waitUntil(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((r) => setTimeout(r, 100));
}
