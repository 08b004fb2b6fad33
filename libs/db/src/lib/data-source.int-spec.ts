import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { dataSourceOptions, WARM_CONNECTIONS } from './data-source';
// Not @sluice/testing: it builds on this lib.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('the pool of a DataSource', () => {
  it(`keeps ${WARM_CONNECTIONS} connections open however long they stay idle, and closes the others`, async () => {
    const applicationName = `sluice-warm-spec-${randomUUID().slice(0, 8)}`;
    const options = dataSourceOptions(TEST_PG_URL, { poolSize: 5, applicationName });
    // The idle timeout shortened from its 10 s, so that the spec need not wait that long.
    const ds = new DataSource({ ...options, extra: { ...(options as { extra?: object }).extra, idleTimeoutMillis: 100 } } as DataSourceOptions);
    await ds.initialize();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    const backends = async () => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rows[0].n);
    try {
      await Promise.all(Array.from({ length: 4 }, () => ds.query('SELECT pg_sleep(0.2)')));
      expect(await backends()).toBe(4);
      // Ten idle timeouts: the two above the minimum are closed, the rest stay.
      for (let i = 0; i < 100 && (await backends()) > WARM_CONNECTIONS; i++) await sleep(10);
      await sleep(1000);
      expect(await backends()).toBe(WARM_CONNECTIONS);
    } finally {
      await admin.end();
      await ds.destroy();
    }
  });
});
