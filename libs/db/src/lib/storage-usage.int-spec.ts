import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { oldestReading, STORAGE_TABLES, tableStorage } from './storage-usage';
// Not @sluice/testing: it builds on this lib. Only the tables read here are made.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('storage usage of an unpartitioned raw_sensor_data', () => {
  const name = `sluice_test_storage_usage_${randomBytes(4).toString('hex')}`;
  let admin: Client;
  let c: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    c = new Client({ connectionString: url.toString() });
    await c.connect();
    await c.query(`CREATE TABLE sensors (id int PRIMARY KEY, name text NOT NULL)`);
    await c.query(`CREATE TABLE raw_sensor_data (sensor_id int NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL, file_id uuid NOT NULL, PRIMARY KEY (sensor_id, ts))`);
  });

  afterAll(async () => {
    await c?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin?.end();
  });

  it('is null with no readings, then the earliest reading of any sensor', async () => {
    expect(await oldestReading(c)).toBeNull();
    await c.query(`INSERT INTO sensors VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    await c.query(
      `INSERT INTO raw_sensor_data VALUES (1, '2024-05-01T00:00:00Z', 1, gen_random_uuid()), (1, '2024-06-01T00:00:00Z', 1, gen_random_uuid()),
                                          (2, '2023-12-31T23:59:59.000001Z', 1, gen_random_uuid())`,
    );
    expect(await oldestReading(c)).toBe('2023-12-31T23:59:59.000001Z');
  });

  it('sizes a plain table as itself (0 partitions) and a missing one as 0 bytes', async () => {
    const tables = await tableStorage(c);
    expect(tables.map((t) => t.table)).toEqual([...STORAGE_TABLES]);
    const [{ bytes }] = (await c.query<{ bytes: string }>(`SELECT pg_total_relation_size('raw_sensor_data')::text AS bytes`)).rows;
    expect(tables[0]).toEqual({ table: 'raw_sensor_data', bytes: Number(bytes), partitions: 0, estimated_rows: expect.any(Number) });
    expect(tables[0].bytes).toBeGreaterThan(0);
    expect(tables.find((t) => t.table === 'log_lines')).toEqual({ table: 'log_lines', bytes: 0, partitions: 0, estimated_rows: 0 });
  });
});
