import { Client } from 'pg';
import { type Json, type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';

jest.setTimeout(60_000);

const KEY = 'qk-data-secret';
const FILE = '60000000-0000-4000-8000-000000000006';
const V1 = 'veh-1';
const V2 = 'veh/2 "two"';
const V_ONLY_DETECTIONS = 'veh-3';

/** Measurements (two 1 µs apart), vehicle states and detections, by SQL as a loader would write them. */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, created_at, updated_at)
       VALUES ($1, 'dropzone', 'seed.json', 'processed/seed.json', repeat('a', 64), 10, 'measurement', 'processed', now(), now())`,
      [FILE],
    );
    await c.query(
      `INSERT INTO measurements (timestamp_utc, mean, std_dev, sample_count, file_id, file_created_at)
       SELECT '2019-05-01T10:00:00Z'::timestamptz + i * interval '1 hour', 0.5 + i, 0.1 * i, 10 + i, $1::uuid, now() FROM generate_series(0, 9) i
       UNION ALL SELECT '2019-05-01T10:00:00.000001Z', 7.25, 0, 3, $1::uuid, now()`,
      [FILE],
    );
    await c.query(
      `INSERT INTO vehicles_status (vehicle_id, report_time, status, file_id, file_created_at) VALUES
         ($2, '2022-05-05T22:02:34.546Z', 'driving', $1::uuid, now()), ($3, '2022-05-05T21:00:00Z', 'parked', $1::uuid, now())`,
      [FILE, V1, V2],
    );
    await c.query(
      `INSERT INTO detection_events (vehicle_id, detection_time, object_type, object_value, file_id, file_created_at)
       SELECT v, '2022-05-05T22:00:00Z'::timestamptz + i * interval '1 minute', t, i, $1::uuid, now()
         FROM unnest(ARRAY[$2, $3, $4]) v, generate_series(0, 4) i, unnest(ARRAY['cars', 'people']) t`,
      [FILE, V1, V2, V_ONLY_DETECTIONS],
    );
  } finally {
    await c.end();
  }
}

describe('query-api measurements, vehicles and detections (real PostgreSQL and NATS)', () => {
  let api: QueryApiHarness;
  const call = (path: string, key?: string | null) => api.call(path, key);
  const expectBadParameter = (path: string, parameter: string) => api.expectBadParameter(path, parameter);
  const walk = (path: string, field: string) => api.walk(path, field);

  beforeAll(async () => {
    api = await startQueryApi('query_data', KEY, seed);
  });

  afterAll(async () => {
    await api?.close();
  });

  it('needs a key on every new endpoint and documents them in OpenAPI', async () => {
    for (const p of ['/measurements', '/measurements/2019-05-01T10:00:00Z', '/vehicles', `/vehicles/${V1}`, `/vehicles/${V1}/detections`, '/detections']) {
      expect((await call(p, null)).status).toBe(401);
    }
    const doc = (await call('/docs-json', null)).body;
    for (const p of ['/measurements', '/measurements/{timestamp_utc}', '/vehicles', '/vehicles/{id}', '/vehicles/{id}/detections', '/detections']) {
      expect(doc['paths'][p]?.['get']?.['security']).toEqual([{ 'api-key': [] }]);
      expect(doc['paths'][p]['get']['responses']['200']).toBeDefined();
    }
    const detectionParams = (doc['paths']['/detections']['get']['parameters'] as Json[]).map((p) => p['name']);
    expect(detectionParams).toEqual(expect.arrayContaining(['vehicle_id', 'object_type', 'from', 'to', 'limit', 'cursor']));
  });

  describe('GET /measurements', () => {
    it('returns measurements in time order with µs timestamps', async () => {
      const { status, body } = await call('/measurements');
      expect(status).toBe(200);
      expect(body['next_cursor']).toBeNull();
      expect(body['measurements']).toHaveLength(11);
      expect(body['measurements'].slice(0, 2)).toEqual([
        { timestamp_utc: '2019-05-01T10:00:00.000000Z', mean: 0.5, std_dev: 0, sample_count: 10, file_id: FILE },
        { timestamp_utc: '2019-05-01T10:00:00.000001Z', mean: 7.25, std_dev: 0, sample_count: 3, file_id: FILE },
      ]);
    });

    it('walks with next_cursor, each row once, within [from, to)', async () => {
      const all = (await call('/measurements')).body['measurements'] as Json[];
      const { rows, pages } = await walk('/measurements?limit=3', 'measurements');
      expect(rows).toEqual(all);
      expect(pages).toBe(4);
      const ranged = await walk('/measurements?from=2019-05-01T10:00:00.000001Z&to=2019-05-01T13:00:00Z&limit=2', 'measurements');
      expect(ranged.rows.map((m) => m['timestamp_utc'])).toEqual(['2019-05-01T10:00:00.000001Z', '2019-05-01T11:00:00.000000Z', '2019-05-01T12:00:00.000000Z']);
    });

    it('400 naming the parameter', async () => {
      await expectBadParameter('/measurements?from=soon', 'from');
      await expectBadParameter('/measurements?from=2019-05-02&to=2019-05-01', 'to');
      await expectBadParameter('/measurements?limit=0', 'limit');
      await expectBadParameter('/measurements?cursor=nope!', 'cursor');
      await expectBadParameter('/measurements?sensor=x', 'sensor');
    });
  });

  describe('GET /measurements/{timestamp_utc}', () => {
    it('finds one instant whatever offset names it', async () => {
      const { status, body } = await call('/measurements/2019-05-01T12:00:00Z');
      expect(status).toBe(200);
      expect(body).toEqual({ timestamp_utc: '2019-05-01T12:00:00.000000Z', mean: 2.5, std_dev: expect.closeTo(0.2, 9), sample_count: 12, file_id: FILE });
      expect((await call(`/measurements/${encodeURIComponent('2019-05-01T08:00:00-04:00')}`)).body['mean']).toBe(2.5);
      expect((await call('/measurements/2019-05-01T10:00:00.000001Z')).body['mean']).toBe(7.25);
    });

    it('404 for an instant without a measurement, 400 for a malformed one', async () => {
      const missing = await call('/measurements/2019-05-01T10:30:00Z');
      expect(missing.status).toBe(404);
      expect(missing.body['error'].code).toBe('not_found');
      await expectBadParameter('/measurements/yesterday', 'timestamp_utc');
      await expectBadParameter('/measurements/2019-05-01T10:00:00', 'timestamp_utc');
      await expectBadParameter('/measurements/2019-02-30T10:00:00Z', 'timestamp_utc');
    });
  });

  describe('GET /vehicles and /vehicles/{id}', () => {
    it('lists the latest status of each vehicle by id, with pages', async () => {
      const { status, body } = await call('/vehicles');
      expect(status).toBe(200);
      expect(body['vehicles']).toEqual([
        { vehicle_id: V1, status: 'driving', report_time: '2022-05-05T22:02:34.546000Z', file_id: FILE, updated_at: expect.any(String) },
        { vehicle_id: V2, status: 'parked', report_time: '2022-05-05T21:00:00.000000Z', file_id: FILE, updated_at: expect.any(String) },
      ]);
      const paged = await walk('/vehicles?limit=1', 'vehicles');
      expect(paged.rows).toEqual(body['vehicles']);
      expect((await call('/vehicles?status=parked')).body['vehicles'].map((v: Json) => v['vehicle_id'])).toEqual([V2]);
    });

    it('returns one vehicle (id URL-encoded), 404 for an unknown one', async () => {
      const { status, body } = await call(`/vehicles/${encodeURIComponent(V2)}`);
      expect(status).toBe(200);
      expect(body['status']).toBe('parked');
      const unknown = await call('/vehicles/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.body['error']).toEqual({ code: 'not_found', message: 'vehicle "nope" not found', details: { vehicle: 'nope' } });
      await expectBadParameter('/vehicles?limit=10001', 'limit');
      await expectBadParameter('/vehicles?cursor=abc', 'cursor');
    });
  });

  describe('GET /vehicles/{id}/detections and /detections', () => {
    it('returns one vehicle’s detections in time order within [from, to)', async () => {
      const { status, body } = await call(`/vehicles/${V1}/detections?from=2022-05-05T22:01:00Z&to=2022-05-05T22:03:00Z`);
      expect(status).toBe(200);
      expect(body['detections']).toEqual([
        { vehicle_id: V1, detection_time: '2022-05-05T22:01:00.000000Z', object_type: 'cars', object_value: 1, file_id: FILE },
        { vehicle_id: V1, detection_time: '2022-05-05T22:01:00.000000Z', object_type: 'people', object_value: 1, file_id: FILE },
        { vehicle_id: V1, detection_time: '2022-05-05T22:02:00.000000Z', object_type: 'cars', object_value: 2, file_id: FILE },
        { vehicle_id: V1, detection_time: '2022-05-05T22:02:00.000000Z', object_type: 'people', object_value: 2, file_id: FILE },
      ]);
      expect(body['next_cursor']).toBeNull();
    });

    it('knows a vehicle that has detections but no status; 404 for one with neither', async () => {
      const only = await call(`/vehicles/${V_ONLY_DETECTIONS}/detections`);
      expect(only.status).toBe(200);
      expect(only.body['detections']).toHaveLength(10);
      expect((await call(`/vehicles/${V_ONLY_DETECTIONS}/detections?from=2030-01-01`)).status).toBe(200);
      expect((await call('/vehicles/nope/detections')).status).toBe(404);
      expect((await call(`/vehicles/${V_ONLY_DETECTIONS}`)).status).toBe(404);
    });

    it('filters every vehicle’s detections and walks the (time, vehicle, type) keyset once each', async () => {
      const all = await walk('/detections?limit=1000', 'detections');
      expect(all.rows).toHaveLength(30);
      const paged = await walk('/detections?limit=4', 'detections');
      expect(paged.rows).toEqual(all.rows);
      expect(paged.pages).toBe(8);
      const keys = paged.rows.map((d) => `${d['detection_time']}|${d['vehicle_id']}|${d['object_type']}`);
      expect(new Set(keys).size).toBe(30);
      expect([...keys].sort()).toEqual(keys);

      const people = await walk(`/detections?object_type=people&vehicle_id=${encodeURIComponent(V2)}&limit=2`, 'detections');
      expect(people.rows.map((d) => [d['vehicle_id'], d['object_type'], d['object_value']])).toEqual([0, 1, 2, 3, 4].map((i) => [V2, 'people', i]));
      expect((await call('/detections?object_type=bikes')).body).toEqual({ detections: [], next_cursor: null });
    });

    it('400 naming the parameter', async () => {
      await expectBadParameter('/detections?from=2022-13-01', 'from');
      await expectBadParameter('/detections?from=2022-05-06&to=2022-05-05', 'to');
      await expectBadParameter('/detections?limit=-1', 'limit');
      await expectBadParameter(`/detections?cursor=${Buffer.from('["2022-05-05T22:00:00Z","a","b"]').toString('base64url')}`, 'cursor');
      await expectBadParameter(`/vehicles/${V1}/detections?vehicle_id=${V2}`, 'vehicle_id');
      await expectBadParameter('/detections?colour=red', 'colour');
    });
  });
});
