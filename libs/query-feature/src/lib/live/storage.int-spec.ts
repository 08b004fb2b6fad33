import { Client } from 'pg';
import { type Json, type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';
import { RETENTION_NOTE } from '../http/retention-horizon';

jest.setTimeout(60_000);

const KEY = 'qk-storage-secret';
const FILE = '71000000-0000-4000-8000-000000000001';
const SENSOR = 'storage/temp';
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Readings of two sensors in raw_sensor_data as the migrations make it (range partitions by month ahead of now
 * and a default), with the partitions of January and February 2025 made as the maintenance job names them; log
 * lines; a run of the maintenance job.
 */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE raw_sensor_data_p20250101 PARTITION OF raw_sensor_data FOR VALUES FROM ('2025-01-01T00:00:00Z') TO ('2025-02-01T00:00:00Z')`);
    await c.query(`CREATE TABLE raw_sensor_data_p20250201 PARTITION OF raw_sensor_data FOR VALUES FROM ('2025-02-01T00:00:00Z') TO ('2025-03-01T00:00:00Z')`);
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded)
       VALUES ($1, 'dropzone', 'r.csv', 'processed/r.csv', repeat('a', 64), 10, 'sensor_wide_csv', 'processed', 1, 1)`,
      [FILE],
    );
    await c.query(`INSERT INTO sensors (id, name) VALUES (1, $1), (2, 'storage/hum')`, [SENSOR]);
    await c.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT 1, now() - make_interval(hours => n), n, $1::uuid FROM generate_series(1, 500) n
       UNION ALL SELECT 2, '2025-01-15T10:00:00.000001Z'::timestamptz + make_interval(mins => n), n, $1::uuid FROM generate_series(0, 99) n`,
      [FILE],
    );
    await c.query(`INSERT INTO aggregated_metrics (sensor_id, bucket, bucket_start, count, min, max, mean, m2) VALUES (1, 'hour', date_trunc('hour', now()), 1, 1, 1, 1, 0)`);
    await c.query(`INSERT INTO log_lines (file_id, line, ts, tag, message) VALUES ($1, 1, now() - interval '40 days', 'info', 'old'), ($1, 2, now(), 'info', 'new')`, [FILE]);
    await c.query(
      `INSERT INTO maintenance_runs (started_at, finished_at, dry_run, trigger, bytes_reclaimed, report, error)
       VALUES ('2026-01-05T09:00:00Z', '2026-01-05T09:00:03Z', true, 'cli', 1, '{}', NULL),
              ('2026-01-05T10:00:00Z', '2026-01-05T10:00:02.5Z', false, 'schedule', 734003200, '{}', NULL)`,
    );
  } finally {
    await c.end();
  }
}

describe('storage in /stats and the retention horizon of reads (real PostgreSQL)', () => {
  let api: QueryApiHarness;
  const get = (path: string, accept = 'application/json') => fetch(`${api.base}${path}`, { headers: { 'x-api-key': KEY, accept } });
  const iso = (ms: number) => new Date(ms).toISOString();
  const encoded = encodeURIComponent(SENSOR);

  beforeAll(async () => {
    api = await startQueryApi('query_storage', KEY, seed, {
      RAW_RETENTION: '90d',
      HOURLY_AGGREGATE_RETENTION: '400d',
      LOG_RETENTION: '30d',
      PARTITION_INTERVAL: 'month',
      MAINTENANCE_CRON: '30 2 * * *',
    });
  });
  afterAll(() => api?.close());

  it('gives every table its size over partitions with indexes, its partitions and estimated rows', async () => {
    const { status, body } = await api.call('/stats?series=false');
    expect(status).toBe(200);
    const storage = body['storage'] as Json;
    const tables = storage['tables'] as Json[];
    expect(tables.map((t) => t['table'])).toEqual([
      'raw_sensor_data', 'aggregated_metrics', 'measurements', 'vehicles_status', 'detection_events', 'log_lines', 'ingest_files', 'ingest_errors', 'ingest_payloads',
    ]);
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    try {
      // What the catalog says of each table: its partitions (pg_inherits) and the size of each with its indexes and TOAST.
      const { rows: truth } = await c.query<{ table: string; partitions: number; bytes: string }>(
        `SELECT t AS table, count(i.inhrelid)::int AS partitions,
                CASE WHEN count(i.inhrelid) = 0 THEN COALESCE(pg_total_relation_size(to_regclass(t)), 0) ELSE sum(pg_total_relation_size(i.inhrelid)) END::bigint::text AS bytes
           FROM unnest($1::text[]) WITH ORDINALITY u(t, n) LEFT JOIN pg_inherits i ON i.inhparent = to_regclass(t)
          GROUP BY t, n ORDER BY n`,
        [tables.map((t) => t['table'])],
      );
      expect(tables.map((t) => ({ table: t['table'], partitions: t['partitions'], bytes: t['bytes'] }))).toEqual(
        truth.map((t) => ({ table: t.table, partitions: t.partitions, bytes: Number(t.bytes) })),
      );
      // The time-partitioned tables: the migration's months and default, and for readings the two months made here.
      const partitioned = Object.fromEntries(tables.filter((t) => t['partitions'] > 0).map((t) => [t['table'], t['partitions']]));
      expect(Object.keys(partitioned)).toEqual(['raw_sensor_data', 'detection_events', 'log_lines']);
      expect(partitioned['raw_sensor_data']).toBe(partitioned['log_lines'] + 2);
      expect(partitioned['log_lines']).toBeGreaterThanOrEqual(4);
      // A partition's size holds its share of the key index; an empty table still takes pages.
      const [{ idx }] = (await c.query(`SELECT pg_indexes_size('raw_sensor_data_p20250101')::bigint::text AS idx`)).rows;
      expect(Number(idx)).toBeGreaterThan(0);
      expect(tables.every((t) => t['bytes'] > 0)).toBe(true);
      await c.query('ANALYZE raw_sensor_data');
    } finally {
      await c.end();
    }
    expect(storage['total_bytes']).toBe(tables.reduce((n, t) => n + t['bytes'], 0));
    const analyzed = ((await api.call('/stats?series=false')).body['storage']['tables'] as Json[])[0];
    expect(analyzed['estimated_rows']).toBe(600);
  });

  it('names the oldest reading kept, the retention settings, the partition interval and the maintenance runs', async () => {
    const before = Date.now();
    const storage = (await api.call('/stats?series=false')).body['storage'] as Json;
    expect(storage['oldest_reading']).toBe('2025-01-15T10:00:00.000001Z');
    expect(storage['partition_interval']).toBe('month');
    expect(storage['retention']).toEqual({
      raw: '90d', hourly_aggregates: '400d', daily_aggregates: null, logs: '30d', processed_files: null, quarantined_files: null, payloads: null, ledger: null,
    });
    expect(storage['maintenance']['cron']).toBe('30 2 * * *');
    expect(storage['maintenance']['last_run']).toEqual({
      started_at: '2026-01-05T10:00:00.000000Z', finished_at: '2026-01-05T10:00:02.500000Z', dry_run: false, trigger: 'schedule', bytes_reclaimed: 734003200, error: null,
    });
    // The next 02:30 UTC after the request.
    const next = Date.parse(storage['maintenance']['next_run'] as string);
    expect(new Date(next).toISOString().slice(11)).toBe('02:30:00.000Z');
    expect(next).toBeGreaterThan(before);
    expect(next - before).toBeLessThanOrEqual(DAY_MS);
  });

  it('finds the oldest reading past empty partitions, and in the default one when it holds older readings', async () => {
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    const oldest = async () => (await api.call('/stats?series=false')).body['storage']['oldest_reading'];
    try {
      await c.query(`DELETE FROM raw_sensor_data WHERE ts < '2025-02-01'`);
      await c.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (2, '2025-02-03T04:05:06Z', 1, $1)`, [FILE]);
      expect(await oldest()).toBe('2025-02-03T04:05:06.000000Z');
      // Before the first range partition: kept by the default partition.
      await c.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, '2013-03-01T00:00:00Z', 1, $1)`, [FILE]);
      expect(await oldest()).toBe('2013-03-01T00:00:00.000000Z');
    } finally {
      await c.end();
    }
  });

  it('says when a range of readings starts before RAW_RETENTION, and still answers', async () => {
    const old = await get(`/sensors/${encoded}/readings?from=2000-01-01&limit=5`);
    const after = Date.now();
    expect(old.status).toBe(200);
    const horizon = old.headers.get('sluice-retention-horizon') as string;
    const horizonMs = Date.parse(horizon);
    // now − 90 d, now being while the request ran: never later than that, and a range starting an hour after it
    // is within retention while one starting an hour before it is not.
    expect(horizonMs).toBeLessThanOrEqual(after - 90 * DAY_MS);
    expect((await get(`/sensors/${encoded}/readings?from=${iso(horizonMs + HOUR_MS)}&limit=1`)).headers.get('sluice-retention-horizon')).toBeNull();
    expect((await get(`/sensors/${encoded}/readings?from=${iso(horizonMs - HOUR_MS)}&limit=1`)).headers.get('sluice-retention-horizon')).not.toBeNull();
    const body = (await old.json()) as Json;
    expect(body['readings']).toHaveLength(5);
    expect(body['retention']).toEqual({ horizon: expect.any(String), note: RETENTION_NOTE });
    expect(Date.parse(body['retention']['horizon'])).toBe(horizonMs);

    // No `from`: the range starts at the beginning, before the horizon.
    expect((await get(`/sensors/${encoded}/readings?limit=1`)).headers.get('sluice-retention-horizon')).not.toBeNull();
    // The whole range within the horizon: no note.
    const recent = await get(`/sensors/${encoded}/readings?from=${iso(Date.now() - DAY_MS)}&limit=1`);
    expect(recent.headers.get('sluice-retention-horizon')).toBeNull();
    expect((await recent.json()) as Json).not.toHaveProperty('retention');

    // An export has the header; its body is the rows alone.
    const csv = await get(`/sensors/${encoded}/readings?from=2000-01-01`, 'text/csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('sluice-retention-horizon')).not.toBeNull();
    expect((await csv.text()).split('\n')[0]).toBe('ts,value,file_id');
  });

  it('aggregates follow their own retention: hourly has one, daily none', async () => {
    const hourly = await get(`/sensors/${encoded}/aggregates?bucket=hour&from=${iso(Date.now() - 500 * DAY_MS)}`);
    const after = Date.now();
    expect(hourly.status).toBe(200);
    const horizonMs = Date.parse(hourly.headers.get('sluice-retention-horizon') as string);
    expect(horizonMs).toBeLessThanOrEqual(after - 400 * DAY_MS);
    expect((await get(`/sensors/${encoded}/aggregates?bucket=hour&from=${iso(horizonMs + HOUR_MS)}`)).headers.get('sluice-retention-horizon')).toBeNull();
    expect(((await hourly.json()) as Json)['retention']['note']).toBe(RETENTION_NOTE);
    // Within 400 days but before 90: the readings' horizon does not apply to aggregates.
    expect((await get(`/sensors/${encoded}/aggregates?bucket=hour&from=${iso(Date.now() - 100 * DAY_MS)}`)).headers.get('sluice-retention-horizon')).toBeNull();
    const daily = await get(`/sensors/${encoded}/aggregates?bucket=day&from=2000-01-01`);
    expect(daily.headers.get('sluice-retention-horizon')).toBeNull();
    expect((await daily.json()) as Json).not.toHaveProperty('retention');
  });

  it('log lines follow LOG_RETENTION, pages and exports alike', async () => {
    const page = await get(`/logs?from=${iso(Date.now() - 60 * DAY_MS)}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('sluice-retention-horizon')).not.toBeNull();
    const body = (await page.json()) as Json;
    expect(body['lines'].map((l: Json) => l['message'])).toEqual(['new', 'old']);
    expect(body['retention']['note']).toBe(RETENTION_NOTE);
    expect((await get(`/logs?from=${iso(Date.now() - 60 * DAY_MS)}`, 'application/x-ndjson')).headers.get('sluice-retention-horizon')).not.toBeNull();
    const recent = await get(`/logs?from=${iso(Date.now() - 10 * DAY_MS)}`);
    expect(recent.headers.get('sluice-retention-horizon')).toBeNull();
  });

  it('documents the header and the note in OpenAPI', async () => {
    const doc = (await (await fetch(`${api.base}/docs-json`)).json()) as Json;
    for (const path of ['/sensors/{name}/readings', '/sensors/{name}/aggregates', '/logs']) {
      expect(Object.keys(doc['paths'][path]['get']['responses']['200']['headers'] ?? {})).toEqual(['Sluice-Retention-Horizon']);
    }
    const schemas = doc['components']['schemas'] as Json;
    for (const dto of ['ReadingsPageDto', 'AggregatesDto', 'LogsPageDto']) expect(schemas[dto]['properties']['retention']).toBeDefined();
    expect(Object.keys(schemas['StorageDto']['properties'])).toEqual(['tables', 'total_bytes', 'oldest_reading', 'partition_interval', 'retention', 'maintenance']);
  });
});
