// One suite, past 400 lines, for the JSON kinds' loaders over one migrated database: they share fixtures and the
// aggregate checks.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, parseMetricRanges } from '@sluice/config';
import type { FileKind } from '@sluice/contracts';
import { createDataSource, withTransaction } from '@sluice/db';
import { aggregateMismatches, createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { AGGREGATES_FROM_RAW_SQL, JsonDocumentLoader, LoaderRegistry, LogLinesLoader, NdjsonLoader, SensorCsvLoader, type LoadOptions, type LoadResult } from '../../index';

const FIXTURES = join(__dirname, '../../../../../fixtures/json');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const skip: LoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.05, ranges: parseMetricRanges(DEFAULT_METRIC_RANGES), naiveTimeZone: 'UTC' };

const V1 = 'ebab5f787798416fb2b8afc1340d7a4e';
const V3 = 'qbae3f787798416fb2b8afc1340ddf19';
/** The bytes cut every `size` bytes (anywhere: inside a string, a number or a UTF-8 sequence), as a stream may. */
const chunksOf = (buf: Buffer, size = buf.length): Buffer[] => Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));
const vehicles = (items: Array<[string, string, string]>) => JSON.stringify({ vehicle_status: items.map(([vehicle_id, report_time, status]) => ({ vehicle_id, report_time, status })) }, null, 2);

describe('JSON and NDJSON loaders', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let registry: LoaderRegistry;
  /** Statements sent by the loader on its transaction's client. */
  let statements = 0;

  beforeAll(async () => {
    db = await createTestDatabase('json_loaders');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  beforeEach(async () => {
    await ds.query('TRUNCATE vehicles_status, detection_events, measurements, raw_sensor_data, aggregated_metrics, ingest_errors, sensors, ingest_files');
    registry = new LoaderRegistry([new SensorCsvLoader(ds), new JsonDocumentLoader(), new NdjsonLoader(ds), new LogLinesLoader()]);
  });

  /** Registers a file in the ledger (at `createdAt`, its place in arrival order). */
  async function register(createdAt = new Date()): Promise<string> {
    const id = randomUUID();
    await ds.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, created_at) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing', $3)`,
      [id, id.replace(/-/g, '').padEnd(64, '0'), createdAt],
    );
    return id;
  }

  /** Loads a file the way the processor does: its own transaction, ledger row locked. */
  async function load(kind: FileKind, text: string, opts: Partial<LoadOptions> & { fileId?: string; createdAt?: Date; chunkBytes?: number } = {}): Promise<LoadResult & { fileId: string }> {
    const fileId = opts.fileId ?? (await register(opts.createdAt));
    statements = 0;
    return withTransaction(ds, async (client) => {
      await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [fileId]);
      // Counts the loader's own statements (not the lock, BEGIN or COMMIT).
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: unknown }).query = (...a: unknown[]) => {
        statements++;
        return query(...a);
      };
      try {
        const r = await registry.for(kind)!.load(client, fileId, kind, () => Readable.from(chunksOf(Buffer.from(text), opts.chunkBytes)), { ...skip, ...opts });
        return { ...r, fileId };
      } finally {
        (client as unknown as { query: unknown }).query = query;
      }
    });
  }

  const statuses = async () => Object.fromEntries((await ds.query(`SELECT vehicle_id, status FROM vehicles_status`)).map((r: { vehicle_id: string; status: string }) => [r.vehicle_id, r.status]));
  const errors = async (fileId: string) => ds.query(`SELECT line, "column", rule, message FROM ingest_errors WHERE file_id = $1 ORDER BY line`, [fileId]);
  /** Every data table, for "nothing changed" checks. */
  const snapshot = async () => ({
    vehicles: await ds.query('SELECT * FROM vehicles_status ORDER BY 1'),
    detections: await ds.query('SELECT * FROM detection_events ORDER BY 1, 2, 3'),
    measurements: await ds.query('SELECT * FROM measurements ORDER BY 1'),
    raw: await ds.query('SELECT * FROM raw_sensor_data ORDER BY 1, 2'),
    aggregates: await ds.query('SELECT * FROM aggregated_metrics ORDER BY 1, 2, 3'),
    sensors: await ds.query('SELECT * FROM sensors ORDER BY 1'),
  });

  describe('vehicle status', () => {
    it('loads the seed file, and the variant dropped after it wins at equal report_time', async () => {
      const r = await load('vehicle_status', fixture('vehicle_status_20240721T143000.json'), { createdAt: new Date('2024-07-21T14:30:00Z') });
      expect(r).toMatchObject({ rowsTotal: 3, rowsLoaded: 3, rowsRejected: 0, rejection: null });
      expect(r.rowsWritten).toEqual({ vehicles_status: 3 });
      expect(await statuses()).toEqual({ [V1]: 'driving', ebae3f787798416fb2b8afc1340d7a6d: 'accident', [V3]: 'parking' });
      const v = await load('vehicle_status', fixture('vehicle_status_20240721T143000.variant.json'), { createdAt: new Date('2024-07-21T14:31:00Z') });
      expect(v).toMatchObject({ rowsLoaded: 3, rejection: null });
      expect((await statuses())[V3]).toBe('accident');
      expect((await ds.query(`SELECT file_id FROM vehicles_status WHERE vehicle_id = $1`, [V3]))[0].file_id).toBe(v.fileId);
    });

    it('keeps the later file at equal report_time even when the earlier one is (re)played after it', async () => {
      const original = await register(new Date('2024-07-21T14:30:00Z'));
      const variant = await register(new Date('2024-07-21T14:31:00Z'));
      await load('vehicle_status', fixture('vehicle_status_20240721T143000.variant.json'), { fileId: variant });
      await load('vehicle_status', fixture('vehicle_status_20240721T143000.json'), { fileId: original });
      expect((await statuses())[V3]).toBe('accident');
    });

    it.each([
      ['older report arrives first', ['2022-05-05T10:00:00Z', 'driving'], ['2022-05-05T12:00:00Z', 'parking']],
      ['newer report arrives first', ['2022-05-05T12:00:00Z', 'parking'], ['2022-05-05T10:00:00Z', 'driving']],
    ])('the newest report wins whatever the arrival order (%s)', async (_, first, second) => {
      const a = await load('vehicle_status', vehicles([[V1, first[0], first[1]]]), { createdAt: new Date('2024-01-01T00:00:00Z') });
      const b = await load('vehicle_status', vehicles([[V1, second[0], second[1]]]), { createdAt: new Date('2024-01-01T00:01:00Z') });
      const [row] = await ds.query(`SELECT status, report_time FROM vehicles_status WHERE vehicle_id = $1`, [V1]);
      expect(row).toEqual({ status: 'parking', report_time: new Date('2022-05-05T12:00:00Z') });
      // the file holding the newer report is the row's lineage; an older report arriving later changed nothing
      const newerFirst = first[1] === 'parking';
      expect((await ds.query(`SELECT file_id FROM vehicles_status`))[0].file_id).toBe(newerFirst ? a.fileId : b.fileId);
      expect(b.rowsWritten).toEqual(newerFirst ? {} : { vehicles_status: 1 });
    });

    it('within one file, the newest report of a vehicle wins and at equal time the later line', async () => {
      await load('vehicle_status', vehicles([[V1, '2022-05-05T10:00:00Z', 'a'], [V1, '2022-05-05T12:00:00Z', 'b'], [V1, '2022-05-05T12:00:00Z', 'c'], [V1, '2022-05-05T11:00:00Z', 'd']]));
      expect(await statuses()).toEqual({ [V1]: 'c' });
    });

    it('refuses a report_time that is not a date, naming the field and the line', async () => {
      const text = vehicles([[V1, '2022-05-05T10:00:00Z', 'ok'], [V3, 'not-a-date', 'driving']]);
      const r = await load('vehicle_status', text);
      expect(r.rejection).toMatchObject({ rule: 'too_many_invalid_rows', line: 10, column: 'vehicle_status[1].report_time', value: '"not-a-date"' });
      expect(r.rejection!.message).toContain('line 10: vehicle_status[1].report_time "not-a-date" is not an ISO-8601 date-time');
      expect(await errors(r.fileId)).toEqual([{ line: 10, column: 'vehicle_status[1].report_time', rule: 'invalid_timestamp', message: expect.stringContaining('line 10:') }]);
      expect(await statuses()).toEqual({});
    });

    it('refuses an item that names a field twice as duplicate_key with the line of the repetition, and loads the others', async () => {
      const text = `{"vehicle_status": [\n${JSON.stringify({ vehicle_id: V1, report_time: '2022-05-05T10:00:00Z', status: 'ok' })},\n{"vehicle_id": "${V3}", "report_time": "2022-05-05T10:00:00Z", "status": "parked",\n "status": "driving"}]}`;
      const r = await load('vehicle_status', text, { maxInvalidRatio: 0.5 });
      expect(r).toMatchObject({ rowsLoaded: 1, rowsRejected: 1, rejection: null });
      expect(await errors(r.fileId)).toEqual([{ line: 4, column: 'vehicle_status[1].status', rule: 'duplicate_key', message: 'line 4: vehicle_status[1].status is given more than once in its object; give each field once' }]);
      expect(await statuses()).toEqual({ [V1]: 'ok' });
    });

    it('loads the good items and records the bad one under skip when the ratio allows; reject refuses the file', async () => {
      const items: Array<[string, string, string]> = Array.from({ length: 40 }, (_, i) => [`v${i}`, '2022-05-05T10:00:00Z', 'ok']);
      items[17] = ['v17', '2022-05-05T10:00:00', 'ok'];
      const r = await load('vehicle_status', vehicles(items));
      expect(r).toMatchObject({ rowsTotal: 40, rowsLoaded: 39, rowsRejected: 1, rowsWritten: { vehicles_status: 39 }, rejection: null });
      expect(await errors(r.fileId)).toMatchObject([{ column: 'vehicle_status[17].report_time', rule: 'invalid_timestamp' }]);
      await ds.query('TRUNCATE vehicles_status');
      const refused = await load('vehicle_status', vehicles(items), { invalidRows: 'reject' });
      expect(refused.rejection).toMatchObject({ rule: 'invalid_timestamp', column: 'vehicle_status[17].report_time' });
      expect(refused.rejection!.message).toContain('INVALID_ROWS=reject');
      expect(await statuses()).toEqual({});
    });

    it('streams a document read in small chunks: every item loaded, the bad ones named with their own line', async () => {
      const items: Array<[string, string, string]> = Array.from({ length: 3000 }, (_, i) => [`v${i}`, new Date(Date.UTC(2022, 0, 1) + i * 1000).toISOString(), i % 3 ? 'driving' : 'parking ☂']);
      items[1234] = ['v1234', 'soon', 'ok'];
      items[2999] = ['v2999', '2022-05-05T10:00:00Z', ''];
      // pretty-printed: item i starts on line 3 + 5i, its report_time on the line after
      const r = await load('vehicle_status', vehicles(items), { chunkBytes: 1000 });
      expect(r).toMatchObject({ rowsTotal: 3000, rowsLoaded: 2998, rowsRejected: 2, rowsWritten: { vehicles_status: 2998 }, rejection: null });
      expect(await errors(r.fileId)).toMatchObject([
        { line: 3 + 5 * 1234 + 2, column: 'vehicle_status[1234].report_time', rule: 'invalid_timestamp' },
        { line: 3 + 5 * 2999 + 3, column: 'vehicle_status[2999].status', rule: 'empty_value' },
      ]);
      expect(await ds.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'parking ☂')::int AS p FROM vehicles_status`)).toEqual([{ n: 2998, p: 1000 }]);
    });

    it('refuses an item larger than MAX_LINE_BYTES as a whole-file too_long, naming its line, without reading it whole', async () => {
      const text = `{"vehicle_status": [
  {"vehicle_id": "a", "report_time": "2022-05-05T10:00:00Z", "status": "ok"},
  {"vehicle_id": "${'x'.repeat(50_000)}"}
]}`;
      const r = await load('vehicle_status', text, { maxLineBytes: 10_000, chunkBytes: 4096 });
      expect(r.rejection).toMatchObject({ rule: 'too_long', line: 3 });
      expect(await statuses()).toEqual({});
    });

    it('writes a batch with a few statements, never one per item, and a replay changes nothing', async () => {
      const items: Array<[string, string, string]> = Array.from({ length: 12_000 }, (_, i) => [`v${i}`, new Date(Date.UTC(2022, 0, 1) + i * 1000).toISOString(), i % 2 ? 'driving' : 'parking']);
      const r = await load('vehicle_status', vehicles(items));
      expect(r).toMatchObject({ rowsLoaded: 12_000, rowsWritten: { vehicles_status: 12_000 } });
      expect(statements).toBeLessThan(15);
      const before = await snapshot();
      const again = await load('vehicle_status', vehicles(items), { fileId: r.fileId });
      expect(again).toMatchObject({ rowsLoaded: 12_000 });
      expect(again.rowsWritten).toEqual({});
      expect(await snapshot()).toEqual(before);
    });
  });

  it('every kind writes 12,000 records with a handful of statements, never one per record', async () => {
    const t0 = Date.UTC(2023, 0, 1);
    const at = (i: number) => new Date(t0 + i * 1000).toISOString();
    const detections = JSON.stringify({ objects_detection_events: Array.from({ length: 12_000 }, (_, i) => ({ vehicle_id: `v${i % 7}`, detection_time: at(i), detections: [{ object_type: 'cars', object_value: i % 5 }] })) });
    expect(await load('detections', detections)).toMatchObject({ rowsLoaded: 12_000, rowsWritten: { detection_events: 12_000 } });
    expect(statements).toBeLessThan(15);
    const ndjson = Array.from({ length: 12_000 }, (_, i) =>
      JSON.stringify(
        i % 4 === 0
          ? { kind: 'sensor_reading', sensor: `s${i % 3}`, ts: at(i), value: i }
          : i % 4 === 1
            ? { kind: 'vehicle_status', vehicle_id: `v${i}`, report_time: at(i), status: 'ok' }
            : i % 4 === 2
              ? { kind: 'measurement', time_stamp: at(i), data: [i, i + 1] }
              : { kind: 'detection', vehicle_id: 'w', detection_time: at(i), detections: [{ object_type: 'x', object_value: 1 }] },
      ),
    ).join('\n');
    const r = await load('ndjson', ndjson);
    expect(r).toMatchObject({ rowsLoaded: 12_000, rejection: null });
    // Each line's row in its own table: readings only where the line was a sensor reading.
    expect(r.rowsWritten).toEqual({ raw_sensor_data: 3000, vehicles_status: 3000, measurements: 3000, detection_events: 3000 });
    expect(statements).toBeLessThan(25);
    await expectAggregatesMatchRaw();
  });

  describe('detections', () => {
    it('loads the seed file (6 rows) and a replay changes nothing', async () => {
      const r = await load('detections', fixture('objects_detection_20240721T143000.json'));
      expect(r).toMatchObject({ rowsTotal: 3, rowsLoaded: 3, rejection: null });
      expect(r.rowsWritten).toEqual({ detection_events: 6 });
      expect(await ds.query(`SELECT object_type, object_value FROM detection_events WHERE detection_time = '2022-06-05T21:02:34.546Z' ORDER BY 1`)).toEqual([
        { object_type: 'cars', object_value: 2 },
        { object_type: 'pedestrians', object_value: 3 },
        { object_type: 'signs', object_value: 3 },
      ]);
      const before = await snapshot();
      const again = await load('detections', fixture('objects_detection_20240721T143000.json'), { fileId: r.fileId });
      expect(again.rejection).toBeNull();
      expect(again.rowsWritten).toEqual({});
      expect(await snapshot()).toEqual(before);
    });

    it('a later file corrects a count; a replay of the earlier file does not undo it', async () => {
      const doc = (value: number) => JSON.stringify({ objects_detection_events: [{ vehicle_id: V1, detection_time: '2022-06-05T21:05:20.590Z', detections: [{ object_type: 'cars', object_value: value }] }] });
      const first = await load('detections', doc(4), { createdAt: new Date('2024-01-01T00:00:00Z') });
      await load('detections', doc(5), { createdAt: new Date('2024-01-01T00:01:00Z') });
      await load('detections', doc(4), { fileId: first.fileId });
      expect(await ds.query(`SELECT object_value FROM detection_events`)).toEqual([{ object_value: 5 }]);
    });

    it('refuses a negative object_value, naming the field and the line', async () => {
      const text = fixture('objects_detection_20240721T143000.json').replace('"object_value": 4', '"object_value": -4');
      const r = await load('detections', text, { invalidRows: 'reject' });
      expect(r.rejection).toMatchObject({ rule: 'out_of_range', line: 27, column: 'objects_detection_events[1].detections[0].object_value', value: '-4' });
      expect(r.rejection!.message).toMatch(/^line 27: objects_detection_events\[1\]\.detections\[0\]\.object_value -4 is negative/);
      expect(await ds.query('SELECT count(*)::int n FROM detection_events')).toEqual([{ n: 0 }]);
    });
  });

  describe('measurements', () => {
    it('stores the seed payload at 10:00 UTC with mean and population std dev exact to 1e-12', async () => {
      const r = await load('measurement', fixture('payload.json'));
      expect(r).toMatchObject({ rowsTotal: 1, rowsLoaded: 1, rejection: null });
      expect(r.rowsWritten).toEqual({ measurements: 1 });
      const data = (JSON.parse(fixture('payload.json')) as { data: number[] }).data;
      // Independent: PostgreSQL's exact numeric arithmetic over the same values.
      const [exact] = await ds.query(`SELECT avg(x::numeric)::float8 AS mean, stddev_pop(x::numeric)::float8 AS sd, count(*)::int AS n FROM unnest($1::float8[]) x`, [data]);
      const [row] = await ds.query(`SELECT timestamp_utc, mean, std_dev, sample_count FROM measurements`);
      expect(row.timestamp_utc.toISOString()).toBe('2019-05-01T10:00:00.000Z');
      expect(row.sample_count).toBe(100);
      expect(Math.abs(row.mean - exact.mean)).toBeLessThan(1e-12);
      expect(Math.abs(row.std_dev - exact.sd)).toBeLessThan(1e-12);
      const before = await snapshot();
      await load('measurement', fixture('payload.json'), { fileId: r.fileId });
      expect(await snapshot()).toEqual(before);
    });

    it('the same timestamp_utc from a later file replaces mean, std dev and count', async () => {
      await load('measurement', JSON.stringify({ time_stamp: '2019-05-01T06:00:00-04:00', data: [1, 2, 3] }));
      await load('measurement', JSON.stringify({ time_stamp: '2019-05-01T10:00:00Z', data: [4, 4] }));
      expect(await ds.query('SELECT mean, std_dev, sample_count FROM measurements')).toEqual([{ mean: 4, std_dev: 0, sample_count: 2 }]);
    });

    it.each([
      ['no offset', { time_stamp: '2019-05-01T06:00:00', data: [1] }, 'invalid_timestamp', 'time_stamp', 2],
      ['empty data', { time_stamp: '2019-05-01T06:00:00Z', data: [] }, 'empty_array', 'data', 3],
      ['a string in data', { time_stamp: '2019-05-01T06:00:00Z', data: [1, '1.2'] }, 'not_a_number', 'data[1]', 5],
      ['null in data', { time_stamp: '2019-05-01T06:00:00Z', data: [null, 1] }, 'not_a_number', 'data[0]', 4],
    ])('refuses a payload with %s, naming the field and the line', async (_, doc, rule, field, line) => {
      const r = await load('measurement', JSON.stringify(doc, null, 2));
      expect(r.rejection).toMatchObject({ rule, column: field, line });
      expect(r.rejection!.message).toContain(`line ${line}: ${field}`);
      expect(await ds.query('SELECT count(*)::int n FROM measurements')).toEqual([{ n: 0 }]);
    });

    it('refuses NaN in data (not even JSON) naming the element and its line', async () => {
      const r = await load('measurement', '{\n  "time_stamp": "2019-05-01T06:00:00Z",\n  "data": [\n    1.5,\n    NaN\n  ]\n}');
      expect(r.rejection).toMatchObject({ rule: 'not_a_number', column: 'data[1]', line: 5, value: 'NaN' });
      expect(r.rejection!.message).toBe('line 5: data[1] must be a finite number, found NaN');
    });
  });

  describe('whole-file refusals', () => {
    it.each([
      ['truncated', '{"vehicle_status": [\n  {"vehicle_id": "a", "report_time": "2022-05-05T10:00:00Z"', {}, { rule: 'truncated_json', line: 2 }],
      ['too deep', `{"vehicle_status": ${'['.repeat(70)}${']'.repeat(70)}}`, {}, { rule: 'json_too_deep', line: 1 }],
      ['too large', vehicles([[V1, '2022-05-05T10:00:00Z', 'x']]), { maxJsonDocumentBytes: 50 }, { rule: 'file_too_large' }],
      ['not a list', '{"vehicle_status": {"a": 1}}', {}, { rule: 'invalid_document', column: 'vehicle_status', line: 1 }],
      ['extra top-level key', '{"vehicle_status": [],\n "extra": 1}', {}, { rule: 'unknown_field', column: 'extra', line: 2 }],
      ['NaN in an item', '{"vehicle_status": [\n  {"vehicle_id": NaN}]}', {}, { rule: 'invalid_json', line: 2 }],
      ['trailing text', '{"vehicle_status": []}\n}', {}, { rule: 'invalid_json', line: 2 }],
    ])('%s', async (_, text, opts, reason) => {
      const r = await load('vehicle_status', text, opts);
      expect(r.rejection).toMatchObject(reason);
      expect(await ds.query(`SELECT rule FROM ingest_errors WHERE file_id = $1`, [r.fileId])).toEqual([{ rule: reason.rule }]);
    });

    it('invalid UTF-8 after the detected head', async () => {
      const text = `{"vehicle_status": [{"vehicle_id": "a", "report_time": "2022-05-05T10:00:00Z", "status": "\u00ff"}]}`;
      const fileId = await register();
      const bytes = Buffer.from(text, 'latin1');
      const r = await withTransaction(ds, (client) => registry.for('vehicle_status')!.load(client, fileId, 'vehicle_status', () => Readable.from([bytes]), skip));
      expect(r.rejection).toMatchObject({ rule: 'invalid_utf8', line: 1 });
    });
  });

  describe('NDJSON', () => {
    const lines = [
      { kind: 'vehicle_status', vehicle_id: V1, report_time: '2022-05-05T22:02:34.546Z', status: 'driving' },
      { kind: 'detection', vehicle_id: V1, detection_time: '2022-06-05T21:02:34.546Z', detections: [{ object_type: 'cars', object_value: 2 }, { object_type: 'signs', object_value: 1 }] },
      { kind: 'measurement', time_stamp: '2019-05-01T06:00:00-04:00', data: [1, 2, 3, 4] },
      { kind: 'sensor_reading', sensor: 'dev1/temp', ts: '2024-03-01T10:15:00+01:00', value: 21.5 },
      { kind: 'sensor_reading', sensor: 'dev1/temp', ts: '2024-03-01T09:45:00Z', value: 22.5 },
      { kind: 'sensor_reading', sensor: 'boiler', ts: '2024-03-01T09:45:00.123456Z', value: -3 },
    ].map((l) => JSON.stringify(l));
    const mixed = [...lines.slice(0, 3), '{"kind": "sensor_reading", "sensor": "dev1/temp", "ts": "2024-03-01T10:00:00Z", "value": "1.2"}', ...lines.slice(3), '{"kind": "vehicle_status", "vehicle_id": ', ''].join('\n');

    it('loads every good line of a mixed file and records exactly the two bad ones', async () => {
      const r = await load('ndjson', mixed, { maxInvalidRatio: 0.5 });
      expect(r).toMatchObject({ rowsTotal: 8, rowsLoaded: 6, rowsRejected: 2, rejection: null });
      expect(r.rowsWritten).toEqual({ vehicles_status: 1, detection_events: 2, measurements: 1, raw_sensor_data: 3 });
      expect(await errors(r.fileId)).toEqual([
        { line: 4, column: 'value', rule: 'not_a_number', message: 'line 4: value must be a finite number, found the string "1.2"' },
        { line: 8, column: expect.any(String), rule: 'truncated_json', message: expect.stringContaining('line 8:') },
      ]);
      expect(await statuses()).toEqual({ [V1]: 'driving' });
      expect(await ds.query('SELECT count(*)::int n FROM detection_events')).toEqual([{ n: 2 }]);
      expect(await ds.query('SELECT sample_count, mean FROM measurements')).toEqual([{ sample_count: 4, mean: 2.5 }]);
      const readings = await ds.query(`SELECT s.name, s.device, s.metric, r.value FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id ORDER BY s.name, r.ts`);
      expect(readings).toEqual([
        { name: 'boiler', device: null, metric: null, value: -3 },
        { name: 'dev1/temp', device: 'dev1', metric: 'temp', value: 21.5 },
        { name: 'dev1/temp', device: 'dev1', metric: 'temp', value: 22.5 },
      ]);
      await expectAggregatesMatchRaw();
      // a replay changes nothing
      const before = await snapshot();
      const again = await load('ndjson', mixed, { fileId: r.fileId, maxInvalidRatio: 0.5 });
      expect(again).toMatchObject({ rowsRejected: 2 });
      expect(again.rowsWritten).toEqual({});
      expect(await snapshot()).toEqual(before);
      expect(await ds.query('SELECT count(*)::int n FROM ingest_errors')).toEqual([{ n: 2 }]);
    });

    it('refuses a line that names a field twice as duplicate_key; a measurement document likewise', async () => {
      const dup = '{"kind": "sensor_reading", "sensor": "dup/temp", "ts": "2024-03-01T10:00:00Z", "value": 1, "value": 2}';
      const r = await load('ndjson', [lines[3], dup, ''].join('\n'), { maxInvalidRatio: 0.5 });
      expect(r).toMatchObject({ rowsLoaded: 1, rowsRejected: 1 });
      expect(await errors(r.fileId)).toEqual([{ line: 2, column: 'value', rule: 'duplicate_key', message: 'line 2: value is given more than once in its object; give each field once' }]);
      const m = await load('measurement', '{"time_stamp": "2019-05-01T06:00:00Z",\n "data": [1], "data": [2]}');
      expect(m.rejection).toMatchObject({ rule: 'duplicate_key', column: 'data', line: 2 });
    });

    it('updates a changed reading and keeps aggregates equal to a recomputation', async () => {
      await load('ndjson', lines.join('\n'));
      await load('ndjson', JSON.stringify({ kind: 'sensor_reading', sensor: 'dev1/temp', ts: '2024-03-01T09:45:00Z', value: 30 }));
      expect((await ds.query(`SELECT value FROM raw_sensor_data WHERE ts >= '2024-03-01T09:45:00Z' AND ts < '2024-03-01T09:46:00Z' ORDER BY value`)).map((x: { value: number }) => x.value)).toEqual([-3, 30]);
      await expectAggregatesMatchRaw();
    });

    it('refuses the file under INVALID_ROWS=reject at the first bad line; unknown kinds and long lines are bad lines', async () => {
      const r = await load('ndjson', mixed, { invalidRows: 'reject' });
      expect(r.rejection).toMatchObject({ rule: 'not_a_number', line: 4, column: 'value' });
      expect((await snapshot()).vehicles).toEqual([]);
      const odd = await load('ndjson', [lines[0], '{"kind": "teleport"}', `{"kind": "sensor_reading", "sensor": "${'x'.repeat(300)}"}`].join('\n'), { maxLineBytes: 200, maxInvalidRatio: 1 });
      expect((await errors(odd.fileId)).map((e: { line: number; rule: string }) => [e.line, e.rule])).toEqual([
        [2, 'unknown_kind'],
        [3, 'line_too_long'],
      ]);
    });
  });

  // ±1.7e308 overflows float8 in a mean or a sum of squares (NaN in JS, an error in PostgreSQL's avg):
  // beyond ±1e100 a value is refused, and every statistic of what is loaded stays finite.
  describe('huge values', () => {
    const hour = 1_600_000_000;
    const wide = (rows: Array<[number, number, string]>) => ['ts,device,light,temp', ...rows.map(([t, i, light]) => `${hour + t},dev,${light},${20 + (i % 10)}`)].join('\n');
    const nanStats = async () =>
      (await ds.query(`SELECT count(*)::int AS n FROM aggregated_metrics WHERE 'NaN' IN (mean, m2, std_dev, min, max)`))[0].n +
      (await ds.query(`SELECT count(*)::int AS n FROM measurements WHERE 'NaN' IN (mean, std_dev)`))[0].n;

    it('wide CSV: ±1.7e308 in one hour is refused as out_of_range; the stats of the rest stay finite, also after the slow path', async () => {
      const rows: Array<[number, number, string]> = [[0, 0, '1.7e308'], [1, 1, '-1.7e308'], [2, 2, '1e100'], [3, 3, '-1e100'], [4, 4, '3e99'], [5, 5, '1']];
      for (let i = 6; i < 200; i++) rows.push([i, i, String(i % 2)]);
      const r = await load('sensor_wide_csv', wide(rows), { maxInvalidRatio: 0.5 });
      expect(r).toMatchObject({ rowsLoaded: 198, rowsRejected: 2, rejection: null });
      expect(await errors(r.fileId)).toMatchObject([
        { line: 2, column: 'light', rule: 'out_of_range', message: expect.stringContaining('beyond ±1e+100') },
        { line: 3, column: 'light', rule: 'out_of_range' },
      ]);
      // the same readings again with one value changed: the slow path recomputes the buckets in SQL
      rows[5] = [5, 5, '-2e99'];
      await load('sensor_wide_csv', wide(rows), { maxInvalidRatio: 0.5 });
      expect(await nanStats()).toBe(0);
      const light = await ds.query(`SELECT a.count::int, a.max, a.std_dev FROM aggregated_metrics a JOIN sensors s ON s.id = a.sensor_id WHERE s.name = 'dev/light' AND a.bucket = 'hour'`);
      expect(light).toEqual([{ count: 198, max: 1e100, std_dev: expect.any(Number) }]);
      expect(Number.isFinite(light[0].std_dev)).toBe(true);
      await expectAggregatesMatchRaw();
      expect(await aggregateMismatches({ query: async <T>(sql: string) => (await ds.query(sql)) as T[] })).toEqual([]);
    });

    it('NDJSON: a huge sensor_reading is a bad line; the recomputed buckets stay finite', async () => {
      const line = (value: number, s: number) => JSON.stringify({ kind: 'sensor_reading', sensor: 'big', ts: `2024-03-01T10:00:0${s}Z`, value });
      const r = await load('ndjson', [line(1.7e308, 1), line(-1.7e308, 2), line(1e100, 3), line(-1e100, 4), line(7, 5)].join('\n'), { maxInvalidRatio: 1 });
      expect(r).toMatchObject({ rowsLoaded: 3, rowsRejected: 2 });
      expect((await errors(r.fileId)).map((e: { rule: string }) => e.rule)).toEqual(['out_of_range', 'out_of_range']);
      expect(await nanStats()).toBe(0);
      await expectAggregatesMatchRaw();
    });

    it('measurement: [1, 1e308, -1e308, 1.7e308] is refused naming data[1]; ±1e100 gives a finite std dev', async () => {
      const r = await load('measurement', JSON.stringify({ time_stamp: '2019-05-01T06:00:00Z', data: [1, 1e308, -1e308, 1.7e308] }));
      expect(r.rejection).toMatchObject({ rule: 'out_of_range', column: 'data[1]' });
      await load('measurement', JSON.stringify({ time_stamp: '2019-05-01T07:00:00Z', data: [1e100, -1e100] }));
      expect(await ds.query('SELECT mean, std_dev FROM measurements')).toEqual([{ mean: 0, std_dev: 1e100 }]);
      expect(await nanStats()).toBe(0);
    });
  });

  async function expectAggregatesMatchRaw(): Promise<void> {
    type Row = { sensor_id: number; bucket: string; bucket_start: Date; count: string; min: number; max: number; mean: number; std_dev: number };
    const key = (r: Row) => `${r.sensor_id}|${r.bucket}|${r.bucket_start.toISOString()}`;
    const stored = new Map((await ds.query<Row[]>('SELECT * FROM aggregated_metrics')).map((r) => [key(r), r]));
    const expected: Row[] = await ds.query(AGGREGATES_FROM_RAW_SQL);
    expect(stored.size).toBe(expected.length);
    for (const e of expected) {
      const s = stored.get(key(e))!;
      expect([String(s.count), s.min, s.max]).toEqual([String(e.count), e.min, e.max]);
      expect(Math.abs(s.mean - e.mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e.mean)));
      expect(Math.abs(s.std_dev - e.std_dev)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e.std_dev)));
    }
  }
});
