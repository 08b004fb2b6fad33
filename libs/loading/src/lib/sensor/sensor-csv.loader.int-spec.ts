import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, parseMetricRanges } from '@sluice/config';
import { createDataSource, withTransaction } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { AGGREGATES_FROM_RAW_SQL, SensorCsvLoader, type LoadResult, type SensorCsvKind, type SensorLoadOptions } from '../../index';

const FIXTURES = join(__dirname, '../../../../../fixtures/sensors');
const ranges = parseMetricRanges(DEFAULT_METRIC_RANGES);
const skip: SensorLoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.05, ranges, naiveTimeZone: 'UTC' };

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';

/** A long CSV: `n` readings per sensor, one a minute from `start`, naive or with offset. */
function longCsv(uuids: string[], n: number, opts: { naive?: boolean; bad?: number } = {}): string {
  const lines = [';timestamp;sensor_uuid;sensor_value'];
  let i = 0;
  for (let k = 0; k < n; k++) {
    const t = new Date(Date.UTC(2013, 0, 5, 22, 0) + k * 60_000).toISOString().slice(0, 19).replace('T', ' ');
    for (const u of uuids) lines.push(`${i++};${opts.naive ? t : `${t}+00:00`};${u};${(20 + Math.sin(i)).toFixed(4)}`);
  }
  for (let b = 0; b < (opts.bad ?? 0); b++) lines.push(`${i++};2013-01-05 10:00:00;${uuids[0]};n/a`);
  return `${lines.join('\n')}\n`;
}

/** A wide CSV (unquoted) of `lines` lines over 3 devices, one line every `step` seconds. */
function wideCsvText(lines: number, step: number, start = 1.6e9): string {
  const out = ['ts,device,co,humidity,light,lpg,motion,smoke,temp'];
  for (let i = 0; i < lines; i++) out.push(`${start + i * step},dev${i % 3},0.0${i % 9},${40 + (i % 50)},1,0.00${i % 7},0,0.0${i % 5},${(20 + Math.sin(i) * 5).toFixed(3)}`);
  return `${out.join('\n')}\n`;
}

describe(SensorCsvLoader.name, () => {
  let db: TestDatabase;
  let ds: DataSource;
  let sut: SensorCsvLoader;

  beforeAll(async () => {
    db = await createTestDatabase('sensor_loader');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  beforeEach(async () => {
    await ds.query('TRUNCATE raw_sensor_data, aggregated_metrics, ingest_errors, sensors, ingest_files');
    // a fresh loader: its sensor-id cache must not outlive the truncated sensors
    sut = new SensorCsvLoader(ds);
  });

  /** Loads one file the way the processor does: its own transaction, ledger row locked. */
  async function load(kind: SensorCsvKind, open: () => NodeJS.ReadableStream, opts: SensorLoadOptions = skip): Promise<LoadResult & { fileId: string }> {
    const fileId = randomUUID();
    await ds.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing')`,
      [fileId, fileId.replace(/-/g, '').padEnd(64, '0')],
    );
    return withTransaction(ds, async (client) => {
      await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [fileId]);
      return { ...(await sut.load(client, fileId, kind, open, opts)), fileId };
    });
  }
  const fixture = (name: string) => () => createReadStream(join(FIXTURES, name), { highWaterMark: 16 * 1024 });
  const text = (s: string) => () => Readable.from([Buffer.from(s)]);
  const count = async (sql: string, params: unknown[] = []) => Number((await ds.query(sql, params))[0].n);

  /** aggregated_metrics equals a recomputation from raw: counts/min/max exact, mean/std within 1e-9 relative. */
  async function expectAggregatesMatchRaw(): Promise<void> {
    const key = (r: { sensor_id: number; bucket: string; bucket_start: Date }) => `${r.sensor_id}|${r.bucket}|${r.bucket_start.toISOString()}`;
    type Row = { sensor_id: number; bucket: string; bucket_start: Date; count: string; min: number; max: number; mean: number; std_dev: number };
    const stored = new Map((await ds.query<Row[]>('SELECT * FROM aggregated_metrics')).map((r) => [key(r), r]));
    const expected: Row[] = await ds.query(AGGREGATES_FROM_RAW_SQL);
    expect(stored.size).toBe(expected.length);
    expect(expected.some((r) => r.bucket === 'day')).toBe(true);
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    for (const e of expected) {
      const s = stored.get(key(e));
      expect(s).toBeDefined();
      expect([s!.count, s!.min, s!.max]).toEqual([String(e.count), e.min, e.max]);
      if (!close(s!.mean, e.mean) || !close(s!.std_dev, e.std_dev)) throw new Error(`bucket ${key(e)}: ${s!.mean}/${s!.std_dev} vs ${e.mean}/${e.std_dev}`);
    }
  }

  it('loads a seed file: counts, µs timestamps, the bad line recorded, in-file duplicates dropped', async () => {
    const r = await load('sensor_wide_csv', fixture('split_2.csv'));
    expect(r).toMatchObject({ rowsTotal: 10001, rowsLoaded: 10000, rowsRejected: 1, rowsWritten: { raw_sensor_data: 9999 * 7 }, rejection: null });
    expect(await count('SELECT count(*) n FROM raw_sensor_data WHERE file_id = $1', [r.fileId])).toBe(9999 * 7);
    expect(await count('SELECT count(*) n FROM sensors')).toBe(21);
    const errors = await ds.query(`SELECT line, "column", rule, raw FROM ingest_errors WHERE file_id = $1`, [r.fileId]);
    expect(errors).toEqual([{ line: 10002, column: 'ts', rule: 'invalid_timestamp', raw: '"","","","","","","","INVALID",""' }]);
    const first = await ds.query(`SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') t FROM raw_sensor_data ORDER BY ts LIMIT 1`);
    expect(first[0].t).toMatch(/\.\d{6}$/);
    // Line 3 ("1.594528639940705E9","00:0f:00:70:91:0a", …): every value as the file wrote it, to the microsecond and the last digit.
    const line3 = await ds.query(
      `SELECT s.metric, to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t, r.value FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.device = '00:0f:00:70:91:0a' AND r.ts = to_timestamp(1594528639.940705) ORDER BY s.metric`,
    );
    expect(line3.map((r: { metric: string; t: string; value: number }) => [r.metric, r.t, r.value])).toEqual([
      ['co', '2020-07-12 04:37:19.940705', 0.0027928260727185],
      ['humidity', '2020-07-12 04:37:19.940705', 75.69999694824219],
      ['light', '2020-07-12 04:37:19.940705', 0],
      ['lpg', '2020-07-12 04:37:19.940705', 0.0050526720657329],
      ['motion', '2020-07-12 04:37:19.940705', 0],
      ['smoke', '2020-07-12 04:37:19.940705', 0.0131038089189969],
      ['temp', '2020-07-12 04:37:19.940705', 19.399999618530273],
    ]);
    await expectAggregatesMatchRaw();
  });

  it('loads a second file and keeps aggregates equal to a recomputation (hour and day)', async () => {
    await load('sensor_wide_csv', fixture('split_2.csv'));
    const r = await load('sensor_wide_csv', fixture('split_31.csv'));
    expect(r).toMatchObject({ rowsRejected: 1, rejection: null });
    const err = await ds.query(`SELECT rule, "column" FROM ingest_errors WHERE file_id = $1`, [r.fileId]);
    expect(err).toEqual([{ rule: 'invalid_timestamp', column: 'ts' }]);
    await expectAggregatesMatchRaw();
  });

  it('changes nothing when the same file is loaded again (slow path)', async () => {
    await load('sensor_wide_csv', fixture('split_31.csv'));
    const before = await ds.query('SELECT * FROM aggregated_metrics ORDER BY 1, 2, 3');
    const rawBefore = await count('SELECT count(*) n FROM raw_sensor_data');
    const again = await load('sensor_wide_csv', fixture('split_31.csv'));
    expect(again).toMatchObject({ rowsLoaded: 10000, rowsRejected: 1, rejection: null });
    expect(again.rowsWritten).toEqual({});
    expect(await count('SELECT count(*) n FROM raw_sensor_data')).toBe(rawBefore);
    expect(await ds.query('SELECT * FROM aggregated_metrics ORDER BY 1, 2, 3')).toEqual(before);
    await expectAggregatesMatchRaw();
  });

  it('updates a changed value on replay and the aggregates follow; the later line wins within a file', async () => {
    const a = 'ts,device,temp\n1600000000.5,d1,10\n1600000001.5,d1,20\n';
    await load('sensor_wide_csv', text(a));
    const b = 'ts,device,temp\n1600000000.5,d1,30\n1600000002.5,d1,40\n1600000002.5,d1,41\n';
    const r = await load('sensor_wide_csv', text(b));
    expect(r).toMatchObject({ rowsLoaded: 3, rowsWritten: { raw_sensor_data: 2 }, rejection: null });
    expect((await ds.query('SELECT value FROM raw_sensor_data ORDER BY ts')).map((x: { value: number }) => x.value)).toEqual([30, 20, 41]);
    await expectAggregatesMatchRaw();
  });

  it('names UUID sensors whether the mapping comes before or after the readings', async () => {
    const before = await load('sensor_long_csv', text(longCsv([U1, U2], 90)));
    expect(before).toMatchObject({ rowsTotal: 180, rowsLoaded: 180, rowsWritten: { raw_sensor_data: 180 }, rejection: null });
    expect(await count(`SELECT count(*) n FROM sensors WHERE name = uuid::text`)).toBe(2);
    const mapping = await load('sensor_mapping_csv', text(`sensor_uuid;sensor_name\n${U1};sensor_00001\n${U2};sensor_00002\n`));
    expect(mapping).toMatchObject({ rowsLoaded: 2, rejection: null });
    expect(mapping.rowsWritten).toEqual({});
    // a later mapping renames (here: a swap); ids and stored readings stay
    await load('sensor_mapping_csv', text(`sensor_uuid;sensor_name\n${U1};sensor_00002\n${U2};sensor_00001\n`));
    const names = await ds.query(`SELECT s.name, count(r.*)::int n FROM sensors s JOIN raw_sensor_data r ON r.sensor_id = s.id GROUP BY s.name ORDER BY 1`);
    expect(names).toEqual([
      { name: 'sensor_00001', n: 90 },
      { name: 'sensor_00002', n: 90 },
    ]);
    expect((await ds.query(`SELECT uuid::text FROM sensors WHERE name = 'sensor_00001'`))[0].uuid).toBe(U2);
    await expectAggregatesMatchRaw();
  });

  it('keeps readings that arrive after their mapping under the mapped sensor', async () => {
    await load('sensor_mapping_csv', text(`sensor_uuid;sensor_name\n${U1};sensor_00001\n`));
    await load('sensor_long_csv', text(longCsv([U1], 10)));
    expect(await count(`SELECT count(*) n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = 'sensor_00001'`)).toBe(10);
  });

  it('reads naive timestamps in NAIVE_TIMEZONE', async () => {
    await load('sensor_long_csv', text(longCsv([U1], 2, { naive: true })), { ...skip, naiveTimeZone: 'America/New_York' });
    const rows = await ds.query(`SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') t FROM raw_sensor_data ORDER BY ts`);
    expect(rows).toEqual([{ t: '2013-01-06 03:00' }, { t: '2013-01-06 03:01' }]);
    await expectAggregatesMatchRaw();
  });

  it('quarantines on the first bad row with INVALID_ROWS=reject, leaving no data but the row error', async () => {
    const r = await load('sensor_wide_csv', fixture('split_31.csv'), { ...skip, invalidRows: 'reject' });
    expect(r.rejection).toMatchObject({ rule: 'invalid_timestamp', line: 10002, column: 'ts' });
    expect(r).toMatchObject({ rowsLoaded: 0, rowsRejected: 1 });
    expect(r.rowsWritten).toEqual({});
    expect(await count('SELECT count(*) n FROM raw_sensor_data')).toBe(0);
    expect(await count('SELECT count(*) n FROM aggregated_metrics')).toBe(0);
    expect(await count('SELECT count(*) n FROM ingest_errors WHERE file_id = $1', [r.fileId])).toBe(1);
  });

  it('quarantines a file whose bad share is above MAX_INVALID_RATIO, and on replay too (slow path)', async () => {
    await load('sensor_long_csv', text(longCsv([U1], 20)));
    const rawBefore = await count('SELECT count(*) n FROM raw_sensor_data');
    const aggBefore = await ds.query('SELECT * FROM aggregated_metrics ORDER BY 1, 2, 3');
    // 20 good (all already stored, so the slow path runs) + 2 bad = 9% > 5%
    const r = await load('sensor_long_csv', text(longCsv([U1], 20, { bad: 2 })));
    expect(r.rejection).toMatchObject({ rule: 'too_many_invalid_rows', line: 22, column: 'sensor_value', value: 'n/a' });
    expect(r).toMatchObject({ rowsTotal: 22, rowsRejected: 2, rowsLoaded: 0 });
    expect(await count('SELECT count(*) n FROM ingest_errors WHERE file_id = $1', [r.fileId])).toBe(2);
    expect(await count('SELECT count(*) n FROM raw_sensor_data')).toBe(rawBefore);
    expect(await ds.query('SELECT * FROM aggregated_metrics ORDER BY 1, 2, 3')).toEqual(aggBefore);
    // at or below the ratio the good rows load
    const ok = await load('sensor_long_csv', text(longCsv([U2], 40, { bad: 2 })));
    expect(ok).toMatchObject({ rowsLoaded: 40, rowsRejected: 2, rejection: null });
  });

  it('caps detailed row errors at 1000 but keeps counts exact', async () => {
    const r = await load('sensor_long_csv', text(longCsv([U1], 10, { bad: 1500 })));
    expect(r).toMatchObject({ rowsRejected: 1500, rejection: { rule: 'too_many_invalid_rows' } });
    expect(await count('SELECT count(*) n FROM ingest_errors WHERE file_id = $1', [r.fileId])).toBe(1000);
  });

  it('quarantines a file with an unusable header and says why', async () => {
    const r = await load('sensor_wide_csv', text('ts,device,temp,temp\n1,d,1,2\n'));
    expect(r.rejection).toMatchObject({ rule: 'invalid_header' });
    expect(await ds.query(`SELECT line, rule FROM ingest_errors WHERE file_id = $1`, [r.fileId])).toEqual([{ line: 1, rule: 'invalid_header' }]);
  });

  it('refuses a mapping line whose name another sensor already has', async () => {
    await load('sensor_wide_csv', text('ts,device,temp\n1600000000,d1,10\n'));
    const r = await load('sensor_mapping_csv', text(`sensor_uuid;sensor_name\n${U1};d1/temp\n${U2};ok_name\n`), { ...skip, maxInvalidRatio: 0.5 });
    expect(r).toMatchObject({ rowsLoaded: 1, rowsRejected: 1, rejection: null });
    expect((await ds.query(`SELECT rule, line FROM ingest_errors WHERE file_id = $1`, [r.fileId]))[0]).toEqual({ rule: 'duplicate_sensor_name', line: 2 });
  });

  it('merges aggregates mid-file when the bucket cap is reached, with the same result', async () => {
    // 3 devices × 7 metrics, a line every 10 minutes over ~2 days: ~1000 hour buckets, flushed every 50
    const file = wideCsvText(900, 600);
    const r = await load('sensor_wide_csv', text(file), { ...skip, aggFlushBuckets: 50 });
    expect(r).toMatchObject({ rowsLoaded: 900, rowsWritten: { raw_sensor_data: 900 * 7 }, rejection: null });
    await expectAggregatesMatchRaw();
    // a file refused after some flushes leaves no aggregate behind
    await ds.query('TRUNCATE raw_sensor_data, aggregated_metrics');
    const refused = await load('sensor_wide_csv', text(`${wideCsvText(900, 600, 1.7e9)}1.8e9,dev0,x,1,1,1,1,1,1\n`), { ...skip, invalidRows: 'reject', aggFlushBuckets: 50 });
    expect(refused.rejection).toMatchObject({ rule: 'not_a_number' });
    expect(await count('SELECT count(*) n FROM aggregated_metrics')).toBe(0);
    expect(await count('SELECT count(*) n FROM raw_sensor_data')).toBe(0);
  });

  it('falls back to the slow path when a repeat with another value comes after a mid-file flush', async () => {
    const file = wideCsvText(300, 600);
    const lines = file.trimEnd().split('\n');
    const changed = lines[1].replace(/,([0-9.]+)$/, ',49');
    const r = await load('sensor_wide_csv', text(`${file}${changed}\n`), { ...skip, aggFlushBuckets: 20 });
    expect(r).toMatchObject({ rowsLoaded: 301, rejection: null });
    const [first] = lines[1].split(',');
    const temp = await ds.query(`SELECT value FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = 'dev0/temp' AND ts = to_timestamp($1)`, [Number(first)]);
    expect(temp).toEqual([{ value: 49 }]);
    await expectAggregatesMatchRaw();
  });

  it('reports progress while loading', async () => {
    let calls = 0;
    await load('sensor_wide_csv', fixture('split_2.csv'), { ...skip, onProgress: () => calls++ });
    expect(calls).toBeGreaterThanOrEqual(1);
  });
});
