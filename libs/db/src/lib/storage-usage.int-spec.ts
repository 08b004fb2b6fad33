import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, MIGRATIONS } from './data-source';
import { ensureDatabase, revertLastMigration, runMigrations } from './database';
import { addIntervals, intervalStart, partitionName } from './partition-bounds';
import { Partitions } from './partitions';
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

describe('the oldest reading in raw_sensor_data as the migrations partition it', () => {
  const name = `sluice_test_storage_oldest_${randomBytes(4).toString('hex')}`;
  const url = Object.assign(new URL(TEST_PG_URL), { pathname: `/${name}` }).toString();
  const FILE = '00000000-0000-4000-8000-0000000000cc';
  const DAY_MS = 86_400_000;
  const now = new Date();
  // Readings 200 to 100 days old, in the plain table: the migration attaches it as one partition of months.
  const span = { from: new Date(now.getTime() - 200 * DAY_MS), to: new Date(now.getTime() - 100 * DAY_MS) };
  const first = partitionName('raw_sensor_data', intervalStart(span.from, 'month'));
  let c: Client;
  let ds: DataSource;

  beforeAll(async () => {
    await ensureDatabase(url);
    await runMigrations(url);
    const fromHere = MIGRATIONS.slice(MIGRATIONS.findIndex((m) => m.name === 'PartitionedTables1765100000000'));
    for (const _ of fromHere) await revertLastMigration(url);
    c = new Client({ connectionString: url });
    await c.connect();
    await c.query(`INSERT INTO sensors (id, name) SELECT n, 'oldest/' || n FROM generate_series(1, 20) n`);
    await c.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT 1 + i % 20, $1::timestamptz + i * ($2::timestamptz - $1::timestamptz) / 999, i, $3 FROM generate_series(0, 999) i`,
      [span.from, span.to, FILE],
    );
    await runMigrations(url);
    ds = createDataSource(url, { poolSize: 2 });
    await ds.initialize();
  });

  afterAll(async () => {
    await c?.end();
    await ds?.destroy();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });

  const leaves = async () =>
    (await c.query<{ leaf: string; n: number }>(`SELECT p.relid::regclass::text AS leaf, (SELECT count(*)::int FROM raw_sensor_data r WHERE r.tableoid = p.relid) AS n FROM pg_partition_tree('raw_sensor_data') p WHERE p.isleaf`)).rows;
  const insert = (sensor: number, ts: string) => c.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES ($1, $2, 1, $3)`, [sensor, ts, FILE]);
  const where = async (ts: string) => (await c.query<{ t: string }>(`SELECT tableoid::regclass::text AS t FROM raw_sensor_data WHERE ts = $1`, [ts])).rows[0]?.t;

  it('is found in the first partition, the old table attached with a range of months, past the empty ones ahead', async () => {
    const parts = await leaves();
    const ranged = parts.filter((p) => p.leaf !== 'raw_sensor_data_default');
    // The old table, then a partition for each month through two ahead of now: those hold nothing.
    expect(ranged[0]).toEqual({ leaf: first, n: 1000 });
    expect(ranged.length).toBeGreaterThanOrEqual(3);
    expect(ranged.slice(1).every((p) => p.n === 0)).toBe(true);
    const [{ oldest }] = (await c.query(`SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS oldest FROM raw_sensor_data`)).rows;
    expect(await oldestReading(c)).toBe(oldest);
  });

  it('is found in a middle partition past empty ones, whatever the order the partitions were made in, and in the default one when older', async () => {
    // Months before the old table's range, made after it (as the maintenance job makes them for an old file).
    await new Partitions(ds, 'month').ensure('raw_sensor_data', new Date('2019-01-01T00:00:00Z'), new Date('2019-04-01T00:00:00Z'));
    await insert(3, '2019-02-14T12:00:00.000001Z');
    await insert(4, '2019-03-02T00:00:00Z');
    expect(await where('2019-02-14T12:00:00.000001Z')).toBe('raw_sensor_data_p20190201');
    expect(await oldestReading(c)).toBe('2019-02-14T12:00:00.000001Z');
    // Ahead of every range: kept by the default partition, and not the oldest.
    await insert(5, '2040-06-01T00:00:00Z');
    expect(await where('2040-06-01T00:00:00Z')).toBe('raw_sensor_data_default');
    expect(await oldestReading(c)).toBe('2019-02-14T12:00:00.000001Z');
    // Before every range: kept by the default partition, the oldest.
    await insert(6, '2013-03-01T00:00:00Z');
    expect(await where('2013-03-01T00:00:00Z')).toBe('raw_sensor_data_default');
    expect(await oldestReading(c)).toBe('2013-03-01T00:00:00.000000Z');
    // The bounds read in a session of another time zone give the same answer.
    await c.query(`SET TimeZone = 'Asia/Kolkata'`);
    expect(await oldestReading(c)).toBe('2013-03-01T00:00:00.000000Z');
    await c.query(`RESET TimeZone`);
    // Only in a partition ahead of now, between the emptied old table and the empty one after it.
    await c.query(`DELETE FROM raw_sensor_data`);
    const ahead = new Date(addIntervals(intervalStart(now, 'month'), 'month', 1).getTime() + 3 * DAY_MS + 1).toISOString();
    await insert(7, ahead);
    expect(await where(ahead)).toBe(partitionName('raw_sensor_data', addIntervals(intervalStart(now, 'month'), 'month', 1)));
    expect(await oldestReading(c)).toBe(ahead.replace(/Z$/, '000Z'));
    await c.query(`DELETE FROM raw_sensor_data`);
    expect(await oldestReading(c)).toBeNull();
  });

  it('sizes the three time-partitioned tables over their partitions, as the catalog lists them', async () => {
    const tables = await tableStorage(c);
    const { rows: truth } = await c.query<{ t: string; n: number; bytes: string }>(
      `SELECT inhparent::regclass::text AS t, count(*)::int AS n, sum(pg_total_relation_size(inhrelid))::bigint::text AS bytes FROM pg_inherits
        WHERE inhparent = ANY ('{raw_sensor_data,detection_events,log_lines}'::regclass[]) GROUP BY inhparent`,
    );
    for (const t of truth) expect(tables.find((s) => s.table === t.t)).toEqual({ table: t.t, bytes: Number(t.bytes), partitions: t.n, estimated_rows: expect.any(Number) });
    expect(truth.map((t) => t.t).sort()).toEqual(['detection_events', 'log_lines', 'raw_sensor_data']);
    expect(tables.filter((t) => t.partitions > 0).map((t) => t.table)).toEqual(['raw_sensor_data', 'detection_events', 'log_lines']);
  });
});
