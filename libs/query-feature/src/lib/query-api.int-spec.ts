import { Script } from 'node:vm';
import { ConfigError } from '@sluice/config';
import { createTestDatabase, SHARED_NATS_URL, startServiceApi, testNamespace, type ServiceApi, type TestDatabase } from '@sluice/testing';
import { QUERY_API } from '../../test/query-api-harness';
import { allReadings, F2_ERRORS, FILES, HUMIDITY, seed, TEMP, UUID_SENSOR } from '../../test/seed';
import { QueryApiModule } from './query-api.module';

// One suite, past 400 lines, over one booted query-api and one seeded database: a file per endpoint would boot
// and seed it again for each.
jest.setTimeout(60_000);

const QUERY_KEY = 'qk-2-secret';
const INGEST_KEY = 'ik-1-secret';

type Running = ServiceApi;
const start = (env: NodeJS.ProcessEnv): Promise<Running> => startServiceApi(QUERY_API, env);
const stop = async (r: Running | undefined): Promise<void> => r?.stop();

// Response bodies are checked field by field below; `any` keeps those checks short.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('query-api (HTTP, real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let api: Running | undefined;
  let env: NodeJS.ProcessEnv;

  const call = async (path: string, key: string | null = QUERY_KEY): Promise<{ status: number; body: Json; type: string | null }> => {
    const res = await fetch(`${api!.base}${path}`, { headers: key === null ? {} : { 'x-api-key': key } });
    const text = await res.text();
    const type = res.headers.get('content-type');
    return { status: res.status, body: type?.includes('json') ? (JSON.parse(text) as Json) : { text }, type };
  };
  const enc = encodeURIComponent;

  /** 400 with the shared error body naming `parameter`. */
  const expectBadParameter = async (path: string, parameter: string) => {
    const { status, body } = await call(path);
    expect(status).toBe(400);
    expect(body['error'].code).toBe('invalid_parameter');
    expect(body['error'].message).toContain(parameter);
    expect(body['error'].details).toEqual([{ parameter, message: expect.any(String) }]);
  };

  beforeAll(async () => {
    db = await createTestDatabase('query_api');
    await seed(db.url);
    env = {
      DATABASE_URL: db.url,
      NATS_URL: SHARED_NATS_URL,
      NATS_NAMESPACE: testNamespace('query'),
      QUERY_API_KEYS: `qk-1-secret,${QUERY_KEY}`,
      INGEST_API_KEYS: INGEST_KEY,
      LOG_LEVEL: 'silent',
    };
    api = await start(env);
  });

  afterAll(async () => {
    await stop(api);
    await db?.drop();
  });

  describe('API keys', () => {
    it('401 without a key, in the shared error format', async () => {
      const { status, body } = await call('/sensors', null);
      expect(status).toBe(401);
      expect(body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('x-api-key'), details: null } });
    });

    it('401 with a wrong key, without echoing it', async () => {
      const { status, body } = await call('/sensors', 'guess-123');
      expect(status).toBe(401);
      expect(body['error'].code).toBe('unauthorized');
      expect(JSON.stringify(body)).not.toContain('guess-123');
    });

    it('403 with a key of the ingest API', async () => {
      const { status, body } = await call('/files', INGEST_KEY);
      expect(status).toBe(403);
      expect(body['error'].code).toBe('forbidden');
    });

    it('200 with any configured query key', async () => {
      expect((await call('/sensors', 'qk-1-secret')).status).toBe(200);
      expect((await call('/sensors', QUERY_KEY)).status).toBe(200);
    });

    it('leaves health, metrics and docs open', async () => {
      expect((await call('/health/live', null)).status).toBe(200);
      // /health/ready is left out: its 2 s race timer (observability lib) outlives the suite.
      expect((await call('/metrics', null)).status).toBe(200);
      expect((await call('/docs-json', null)).status).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('documents every endpoint behind the api-key scheme', async () => {
      const { body } = await call('/docs-json', null);
      const paths = body['paths'] as Record<string, Json>;
      for (const p of ['/sensors', '/sensors/{name}/readings', '/sensors/{name}/aggregates', '/files', '/files/{id}']) {
        expect(paths[p]?.['get']?.['security']).toEqual([{ 'api-key': [] }]);
        expect(paths[p]['get']['responses']['200']).toBeDefined();
      }
      expect(body['components']['securitySchemes']['api-key']).toEqual(expect.objectContaining({ in: 'header', name: 'x-api-key' }));
      const readingParams = (paths['/sensors/{name}/readings']['get']['parameters'] as Json[]).map((p) => p['name']);
      expect(readingParams).toEqual(expect.arrayContaining(['name', 'from', 'to', 'limit', 'cursor', 'page', 'page_size', 'x-api-key']));
      expect(body['components']['schemas']['ApiErrorDto']).toBeDefined();
    });

    it('serves /docs with a script that is valid JavaScript (the page renders)', async () => {
      const res = await fetch(`${api?.base}/docs/swagger-ui-init.js`);
      expect(res.status).toBe(200);
      const script = await res.text();
      expect(() => new Script(script)).not.toThrow();
      expect(script).not.toContain('[native code]');
    });
  });

  describe('GET /sensors', () => {
    it('lists sensors with counts from the day aggregates and first/last timestamps with µs', async () => {
      const { status, body } = await call('/sensors');
      expect(status).toBe(200);
      expect(body).toEqual([
        { name: HUMIDITY, uuid: null, device: 'b8:27:eb:bf:9d:51', metric: 'humidity', reading_count: 5, first_ts: '2020-07-12T00:00:00.000000Z', last_ts: '2020-07-12T04:00:00.000000Z' },
        { name: TEMP, uuid: null, device: 'b8:27:eb:bf:9d:51', metric: 'temp', reading_count: 52, first_ts: '2020-07-12T23:50:00.000001Z', last_ts: '2020-07-13T00:20:13.006028Z' },
        { name: UUID_SENSOR.name, uuid: UUID_SENSOR.uuid, device: null, metric: null, reading_count: 0, first_ts: null, last_ts: null },
      ]);
    });
  });

  describe('GET /sensors/{name}/readings', () => {
    it('returns readings in time order with µs timestamps (name URL-encoded with / and :)', async () => {
      const expected = await allReadings(db.url, TEMP);
      const { status, body } = await call(`/sensors/${enc(TEMP)}/readings`);
      expect(status).toBe(200);
      expect(body).toEqual({ sensor: TEMP, readings: expected, next_cursor: null });
      expect(body['readings']).toContainEqual({ ts: '2020-07-13T00:00:00.000000Z', value: 21.25, file_id: FILES.f1.id });
      expect(body['readings']).toContainEqual({ ts: '2020-07-13T00:00:00.000001Z', value: 21.75, file_id: FILES.f1.id });
    });

    it('walking next_cursor returns every reading exactly once, and agrees with page/page_size', async () => {
      const expected = await allReadings(db.url, TEMP);
      const walked: Json[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const { status, body } = await call(`/sensors/${enc(TEMP)}/readings?limit=5${q}`);
        expect(status).toBe(200);
        expect(body['readings'].length).toBeLessThanOrEqual(5);
        walked.push(...body['readings']);
        cursor = body['next_cursor'];
        pages++;
      } while (cursor !== null && pages < 100);
      expect(walked).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 5));

      const paged: Json[] = [];
      for (let page = 1; page <= pages; page++) {
        const { body } = await call(`/sensors/${enc(TEMP)}/readings?page=${page}&page_size=5`);
        paged.push(...body['readings']);
      }
      expect(paged).toEqual(expected);
      const beyond = await call(`/sensors/${enc(TEMP)}/readings?page=${pages + 1}&page_size=5`);
      expect(beyond.body).toEqual({ sensor: TEMP, readings: [], next_cursor: null });
    });

    it('cursor pages also respect from/to', async () => {
      const expected = (await allReadings(db.url, TEMP)).filter((r) => r.ts >= '2020-07-12T23:55:00' && r.ts < '2020-07-13T00:05:00');
      const first = await call(`/sensors/${enc(TEMP)}/readings?from=2020-07-12T23:55:00Z&to=2020-07-13T00:05:00Z&limit=10`);
      const second = await call(`/sensors/${enc(TEMP)}/readings?from=2020-07-12T23:55:00Z&to=2020-07-13T00:05:00Z&limit=10&cursor=${first.body['next_cursor']}`);
      expect([...first.body['readings'], ...second.body['readings']]).toEqual(expected);
      expect(second.body['next_cursor']).toBeNull();
    });

    it('from is inclusive and to exclusive, to the microsecond', async () => {
      const only = await call(`/sensors/${enc(TEMP)}/readings?from=2020-07-13T00:00:00.000001Z&to=2020-07-13T00:00:00.000002Z`);
      expect(only.body['readings'].map((r: Json) => r['ts'])).toEqual(['2020-07-13T00:00:00.000001Z']);
      const before = await call(`/sensors/${enc(TEMP)}/readings?from=2020-07-13T00:00:00Z&to=2020-07-13T00:00:00.000001Z`);
      expect(before.body['readings'].map((r: Json) => r['ts'])).toEqual(['2020-07-13T00:00:00.000000Z']);
      // An offset is honoured; a date alone is midnight UTC.
      const offset = await call(`/sensors/${enc(TEMP)}/readings?from=${enc('2020-07-13T02:00:00+02:00')}&limit=1`);
      expect(offset.body['readings'][0]['ts']).toBe('2020-07-13T00:00:00.000000Z');
      const dateOnly = await call(`/sensors/${enc(TEMP)}/readings?from=2020-07-13&limit=1`);
      expect(dateOnly.body['readings'][0]['ts']).toBe('2020-07-13T00:00:00.000000Z');
    });

    it('a sensor without readings answers an empty page, an unknown one 404', async () => {
      const empty = await call(`/sensors/${UUID_SENSOR.name}/readings`);
      expect(empty.body).toEqual({ sensor: UUID_SENSOR.name, readings: [], next_cursor: null });
      const unknown = await call(`/sensors/${enc('nope/temp')}/readings`);
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: { code: 'not_found', message: 'sensor "nope/temp" not found', details: { sensor: 'nope/temp' } } });
    });

    it('400 naming the parameter', async () => {
      const path = `/sensors/${enc(TEMP)}/readings`;
      await expectBadParameter(`${path}?from=yesterday`, 'from');
      await expectBadParameter(`${path}?from=2020-02-30T00:00:00Z`, 'from');
      await expectBadParameter(`${path}?to=2020-W01`, 'to');
      await expectBadParameter(`${path}?from=2020-07-13&to=2020-07-12`, 'to');
      await expectBadParameter(`${path}?limit=0`, 'limit');
      await expectBadParameter(`${path}?limit=10001`, 'limit');
      await expectBadParameter(`${path}?limit=ten`, 'limit');
      await expectBadParameter(`${path}?page=0`, 'page');
      await expectBadParameter(`${path}?cursor=not-a-cursor`, 'cursor');
      await expectBadParameter(`${path}?cursor=${Buffer.from('2020-07-13').toString('base64url')}`, 'cursor');
      await expectBadParameter(`${path}?page=2&cursor=${Buffer.from('2020-07-13T00:00:00.000000Z').toString('base64url')}`, 'cursor');
      await expectBadParameter(`${path}?colour=blue`, 'colour');
    });

    it('accepts limit up to 10000', async () => {
      const { status, body } = await call(`/sensors/${enc(TEMP)}/readings?limit=10000`);
      expect(status).toBe(200);
      expect(body['readings']).toHaveLength(52);
    });
  });

  describe('GET /sensors/{name}/aggregates', () => {
    it('returns hour buckets by default, and day buckets on request', async () => {
      const hours = await call(`/sensors/${enc(TEMP)}/aggregates`);
      expect(hours.status).toBe(200);
      expect(hours.body['bucket']).toBe('hour');
      expect(hours.body['aggregates'].map((a: Json) => [a['bucket_start'], a['count']])).toEqual([
        ['2020-07-12T23:00:00.000000Z', 17],
        ['2020-07-13T00:00:00.000000Z', 35],
      ]);
      const days = await call(`/sensors/${enc(TEMP)}/aggregates?bucket=day`);
      expect(days.body['aggregates']).toHaveLength(2);
      const day = days.body['aggregates'][1] as Json;
      expect(day).toEqual({ bucket_start: '2020-07-13T00:00:00.000000Z', count: 35, min: 20, max: 23, mean: expect.any(Number), std_dev: expect.any(Number) });

      // The numbers agree with the readings they summarise.
      const values = (await allReadings(db.url, TEMP)).filter((r) => r.ts >= '2020-07-13').map((r) => r.value);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
      expect(day['mean']).toBeCloseTo(mean, 9);
      expect(day['std_dev']).toBeCloseTo(std, 9);
    });

    it('filters bucket starts to [from, to)', async () => {
      const { body } = await call(`/sensors/${enc(HUMIDITY)}/aggregates?bucket=hour&from=2020-07-12T01:00:00Z&to=2020-07-12T03:00:00Z`);
      expect(body['aggregates'].map((a: Json) => a['bucket_start'])).toEqual(['2020-07-12T01:00:00.000000Z', '2020-07-12T02:00:00.000000Z']);
    });

    it('400 for a bad bucket, 404 for an unknown sensor', async () => {
      await expectBadParameter(`/sensors/${enc(TEMP)}/aggregates?bucket=week`, 'bucket');
      expect((await call('/sensors/nope/aggregates')).status).toBe(404);
    });
  });

  describe('GET /files', () => {
    const newestFirst = [FILES.f5, FILES.f4, FILES.f3, FILES.f2, FILES.f1].map((f) => f.id);

    it('lists ledger rows newest first, ties broken by id', async () => {
      const { status, body } = await call('/files');
      expect(status).toBe(200);
      expect(body['files'].map((f: Json) => f['id'])).toEqual(newestFirst);
      expect(body['next_cursor']).toBeNull();
      expect(body['files'][3]).toEqual(
        expect.objectContaining({
          id: FILES.f2.id,
          status: 'quarantined',
          kind: 'sensor_wide_csv',
          rows_total: 200,
          rows_rejected: F2_ERRORS,
          size_bytes: 1234,
          created_at: FILES.f2.created,
          error: { rule: 'too_many_invalid', message: expect.any(String) },
        }),
      );
    });

    it('counts the rows each file wrote under its table, readings only for raw_sensor_data', async () => {
      const files = (await call('/files')).body['files'] as Json[];
      const of = (id: string) => files.find((f) => f['id'] === id);
      expect(of(FILES.f1.id)).toEqual(expect.objectContaining({ readings_loaded: 95, rows_written: 95, rows_written_by_table: { raw_sensor_data: 95 } }));
      expect(of(FILES.f3.id)).toEqual(expect.objectContaining({ readings_loaded: 0, rows_written: 95, rows_written_by_table: { vehicles_status: 95 } }));
      expect(of(FILES.f2.id)).toEqual(expect.objectContaining({ readings_loaded: 0, rows_written: 0, rows_written_by_table: {} }));
      expect((await call(`/files/${FILES.f3.id}`)).body).toEqual(expect.objectContaining({ readings_loaded: 0, rows_written: 95, rows_written_by_table: { vehicles_status: 95 } }));
    });

    it('walks with next_cursor, each row once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const { body } = await call(`/files?limit=2${q}`);
        seen.push(...body['files'].map((f: Json) => f['id']));
        cursor = body['next_cursor'];
      } while (cursor !== null && seen.length < 50);
      expect(seen).toEqual(newestFirst);
    });

    it('filters by status and kind', async () => {
      expect((await call('/files?status=processed')).body['files'].map((f: Json) => f['id'])).toEqual([FILES.f3.id, FILES.f1.id]);
      expect((await call('/files?status=processed&kind=vehicle_status')).body['files'].map((f: Json) => f['id'])).toEqual([FILES.f3.id]);
    });

    it('400 naming the parameter', async () => {
      await expectBadParameter('/files?status=done', 'status');
      await expectBadParameter('/files?kind=xml', 'kind');
      await expectBadParameter('/files?limit=1001', 'limit');
      await expectBadParameter(`/files?cursor=${Buffer.from('2020-07-13T00:00:00.000000Z').toString('base64url')}`, 'cursor');
    });
  });

  describe('GET /files/{id}', () => {
    it('returns the row, its error and the first 100 rejected rows by line', async () => {
      const { status, body } = await call(`/files/${FILES.f2.id}`);
      expect(status).toBe(200);
      expect(body['id']).toBe(FILES.f2.id);
      expect(body['error']).toEqual({ rule: 'too_many_invalid', message: '105 of 200 rows are invalid (52.5% > 5%)' });
      expect(body['rejected_rows']).toHaveLength(100);
      expect(body['rejected_rows_truncated']).toBe(true);
      expect(body['rejected_rows'][0]).toEqual({ line: 1, column: 'temp', rule: 'out_of_range', message: 'temp 61 is outside -50..50', raw: '1594512094,b8:27:eb:bf:9d:51,61' });
      expect(body['rejected_rows'].map((r: Json) => r['line'])).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    });

    it('a clean file has no rejected rows', async () => {
      const { body } = await call(`/files/${FILES.f1.id}`);
      expect(body).toEqual(expect.objectContaining({ id: FILES.f1.id, error: null, rejected_rows: [], rejected_rows_truncated: false }));
    });

    it('404 for an unknown id, 400 for a malformed one', async () => {
      const unknown = await call('/files/99999999-0000-4000-8000-000000000009');
      expect(unknown.status).toBe(404);
      expect(unknown.body['error'].code).toBe('not_found');
      await expectBadParameter('/files/not-a-uuid', 'id');
    });
  });

  // Every hostile value answers a readable 400/404 in the one error format, never a 500.
  describe('hostile parameters', () => {
    const readings = `/sensors/${enc(TEMP)}/readings`;

    it.each([
      [`${readings}?page=1000000000000000000`, 'page'],
      [`${readings}?page=1000000001`, 'page'],
      [`${readings}?page=9007199254740993`, 'page'],
      [`${readings}?page=1e3`, 'page'],
      [`${readings}?limit=0x10`, 'limit'],
      [`${readings}?limit=1e400`, 'limit'],
      [`${readings}?page_size=-1`, 'page_size'],
      [`${readings}?limit=${'9'.repeat(30)}`, 'limit'],
      ['/files?limit=1000000000000000000', 'limit'],
      ['/errors?limit=1e2', 'limit'],
      ['/measurements?limit=99999999999999999999', 'limit'],
      ['/vehicles?limit=0x1', 'limit'],
      ['/sensors/a%00b/readings', 'name'],
      ['/sensors/a%00b/aggregates', 'name'],
      ['/vehicles/a%00b', 'id'],
      ['/vehicles/a%00b/detections', 'id'],
      ['/detections?vehicle_id=a%00b', 'vehicle_id'],
      ['/detections?object_type=%00', 'object_type'],
      [`${readings}?cursor=a%00b`, 'cursor'],
      ['/files?status=a%00b', 'status'],
      ['/measurements/2019-05-01T10:00:00Z%00', 'timestamp_utc'],
      ['/measurements/99999-05-01T10:00:00Z', 'timestamp_utc'],
      ['/measurements/2019-05-01T10:00:00', 'timestamp_utc'],
      [`${readings}?from=99999-01-01`, 'from'],
      [`${readings}?from=275760-09-13`, 'from'],
      [`${readings}?to=0000-01-01`, 'to'],
      [`${readings}?to=-000001-01-01`, 'to'],
      [`${readings}?from=${enc('9999-12-31T23:59:59-15:00')}`, 'from'],
      [`${readings}?from=${enc('2020-01-01T00:00:00+16:00')}`, 'from'],
      [`/sensors/${enc(TEMP)}/aggregates?from=2020-01-01T24:00:00Z`, 'from'],
      ['/measurements?to=10000-01-01', 'to'],
      ['/detections?from=%ff', 'from'],
      ['/detections?vehicle_id=%ff', 'vehicle_id'],
      ['/detections?object_type=%E0%A4%A', 'object_type'],
      ['/files?status=%', 'status'],
      ['/sensors?%ff=1', '%ff'],
      ['/measurements?to=%ED%A0%80', 'to'],
      [`${readings}?from=${'2'.repeat(80)}`, 'from'],
    ])('%s → 400 naming %s', async (path, parameter) => {
      await expectBadParameter(path, parameter);
    });

    it('invalid percent-encoding in the path is a 400 in the error format; an unknown name a 404', async () => {
      for (const path of ['/sensors/%ff/readings', '/sensors/%E0%A4%A/aggregates', '/vehicles/%/detections', '/files/%C0%80']) {
        const { status, body } = await call(path);
        expect([path, status]).toEqual([path, 400]);
        expect(body).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/^the path segment ".*" is not valid percent-encoded UTF-8$/), details: null } });
      }
      const { status, body } = await call(`/sensors/${enc('\u0001\u001b[2J')}/readings`);
      expect(status).toBe(404);
      expect(body['error'].code).toBe('not_found');
    });

    it('takes every timestamp form the loader takes (space, 9 fraction digits, comma, ±HH)', async () => {
      for (const from of ['2020-07-13 00:00:00+00:00', '2020-07-13 02:00+02', '2020-07-12T23:59:59.9999999Z', '2020-07-13T00:00:00,0000001Z', '2020-07-13 00:00:00 Z', '2020-07-13T00:00:00']) {
        const r = await call(`${readings}?from=${enc(from)}&limit=1`);
        expect([from, r.status, r.body['readings']?.[0]?.['ts']]).toEqual([from, 200, '2020-07-13T00:00:00.000000Z']);
      }
    });
  });

  describe('errors and metrics', () => {
    it('unknown routes answer 404 in the shared format', async () => {
      const { status, body } = await call('/nowhere');
      expect(status).toBe(404);
      expect(body).toEqual({ error: { code: 'not_found', message: 'no route GET /nowhere', details: null } });
    });

    it('counts requests by route template', async () => {
      const { body } = await call('/metrics', null);
      expect(body['text']).toMatch(/http_requests_total\{[^}]*route="\/sensors\/:name\/readings"[^}]*status="200"/);
      expect(body['text']).toMatch(/http_requests_total\{[^}]*status="401"/);
      expect(body['text']).toMatch(/http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/);
    });
  });

  describe('start-up without keys', () => {
    it('refuses to start, naming QUERY_API_KEYS and ALLOW_ANONYMOUS', () => {
      const noKeys = { ...env, QUERY_API_KEYS: '' };
      expect(() => QueryApiModule.forRoot(noKeys)).toThrow(ConfigError);
      expect(() => QueryApiModule.forRoot({ ...noKeys, ALLOW_ANONYMOUS: 'false' })).toThrow(/QUERY_API_KEYS[\s\S]*ALLOW_ANONYMOUS=true/);
    });

    it('serves without a key when ALLOW_ANONYMOUS=true and no key is set', async () => {
      const keyed = api;
      let anonymous: Running | undefined;
      try {
        anonymous = await start({ ...env, QUERY_API_KEYS: '', ALLOW_ANONYMOUS: 'true', NATS_NAMESPACE: testNamespace('anon') });
        api = anonymous;
        const { status, body } = await call('/sensors', null);
        expect(status).toBe(200);
        expect(body).toHaveLength(3);
      } finally {
        api = keyed;
        await stop(anonymous);
      }
    });
  });
});
