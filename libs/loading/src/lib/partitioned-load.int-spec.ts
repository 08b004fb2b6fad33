import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, loadConfig, parseMetricRanges, ProcessorConfig } from '@sluice/config';
import type { FileKind } from '@sluice/contracts';
import { createDataSource, intervalStart, partitionName, Partitions, withTransaction } from '@sluice/db';
import { createTestDatabase, type TestDatabase, waitFor } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { JsonDocumentLoader, LoaderRegistry, LogLinesLoader, NdjsonLoader, PartitionCoverage, SensorCsvLoader, type LoadOptions, type LoadResult } from '../index';

const skip: LoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.5, ranges: parseMetricRanges(DEFAULT_METRIC_RANGES), naiveTimeZone: 'UTC' };
const DAY = 86_400_000;

describe('loads into time-partitioned tables', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let registry: LoaderRegistry;

  beforeAll(async () => {
    db = await createTestDatabase('partitioned_load');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    registry = new LoaderRegistry([new SensorCsvLoader(ds), new JsonDocumentLoader(), new NdjsonLoader(ds), new LogLinesLoader()]);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** Loads a file the way the processor does: its own transaction, ledger row locked. */
  async function load(kind: FileKind, text: string, opts: Partial<LoadOptions> = {}): Promise<LoadResult & { fileId: string }> {
    const fileId = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing')`, [
      fileId,
      fileId.replace(/-/g, '').padEnd(64, '0'),
    ]);
    return withTransaction(ds, async (client) => {
      await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [fileId]);
      return { ...(await registry.for(kind)!.load(client, fileId, kind, () => Readable.from([Buffer.from(text)]), { ...skip, ...opts })), fileId };
    });
  }
  const errors = async (fileId: string) => ds.query(`SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1 ORDER BY line`, [fileId]);

  it('a sensor file outside every partition ends in partitions of its own weeks, every reading there', async () => {
    const coverage = new PartitionCoverage(ds, loadConfig(ProcessorConfig, { PARTITION_INTERVAL: 'week' }));
    const start = Date.UTC(2021, 4, 1, 3); // Saturday 2021-05-01
    const lines = ['ts,device,co,humidity,light,lpg,motion,smoke,temp'];
    for (let i = 0; i < 80; i++) lines.push(`${(start + i * 6 * 3_600_000) / 1000},dev${i % 3},0.01,40,1,0.001,0,0.02,21.5`);
    const r = await load('sensor_wide_csv', `${lines.join('\n')}\n`);
    expect(r.rowsWritten).toEqual({ raw_sensor_data: 80 * 7 });
    // Loaded into the default partition (nothing refused), then given partitions once committed.
    expect(Number((await ds.query(`SELECT count(*) AS n FROM raw_sensor_data_default WHERE file_id = $1`, [r.fileId]))[0].n)).toBe(560);

    const changes = await coverage.afterLoad(r.rowsWritten);
    const weeks = [...new Set(Array.from({ length: 80 }, (_, i) => intervalStart(new Date(start + i * 6 * 3_600_000), 'week').getTime()))].map((t) => partitionName('raw_sensor_data', new Date(t)));
    expect(weeks).toEqual(['raw_sensor_data_p20210426', 'raw_sensor_data_p20210503', 'raw_sensor_data_p20210510', 'raw_sensor_data_p20210517']);
    expect(changes.filter((c) => c.action === 'create').map((c) => c.name)).toEqual(weeks);
    expect(changes.filter((c) => c.action === 'move').reduce((n, c) => n + (c.rows ?? 0), 0)).toBe(560);
    const held = await ds.query(`SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1 GROUP BY 1 ORDER BY 1`, [r.fileId]);
    expect(held.map((h: { part: string }) => h.part)).toEqual(weeks);
    expect(held.reduce((n: number, h: { n: number }) => n + h.n, 0)).toBe(560);
    // Covered now: a second look finds nothing to do.
    expect(await coverage.afterLoad(r.rowsWritten)).toEqual([]);
  });

  it('before its first COPY, a load makes the partitions of its first readings: they go straight there, never through the default partition', async () => {
    const coverage = new PartitionCoverage(ds, loadConfig(ProcessorConfig, { PARTITION_INTERVAL: 'day' }));
    const start = Date.UTC(2020, 2, 4, 22); // two days: 2020-03-04 and 2020-03-05
    const lines = ['ts,device,temp'];
    for (let i = 0; i < 6; i++) lines.push(`${(start + i * 3_600_000) / 1000},early,21.5`);
    const beforeCopy: LoadOptions['beforeCopy'] = (table, from, to) => coverage.beforeCopy(table, from, to);
    const r = await load('sensor_wide_csv', `${lines.join('\n')}\n`, { beforeCopy });
    expect(r.rowsWritten).toEqual({ raw_sensor_data: 6 });
    const held = await ds.query(`SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1 GROUP BY 1 ORDER BY 1`, [r.fileId]);
    expect(held).toEqual([
      { part: 'raw_sensor_data_p20200304', n: 2 },
      { part: 'raw_sensor_data_p20200305', n: 4 },
    ]);
    // Nothing was left to move after the commit.
    expect(await coverage.afterLoad(r.rowsWritten)).toEqual([]);
  });

  it('when another load holds the default partition, a load does not wait to make its partitions: its rows take the default partition', async () => {
    const coverage = new PartitionCoverage(ds, loadConfig(ProcessorConfig, { PARTITION_INTERVAL: 'day' }));
    const inFlight = ds.createQueryRunner();
    await inFlight.connect();
    try {
      await inFlight.startTransaction();
      await inFlight.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, '2019-01-01T00:00:00Z', 2, $1)`, [randomUUID()]);
      const beforeCopy: LoadOptions['beforeCopy'] = (table, from, to) => coverage.beforeCopy(table, from, to);
      const r = await load('sensor_wide_csv', `ts,device,temp
${Date.UTC(2019, 5, 1) / 1000},blocked,20
`, { beforeCopy });
      expect(r.rowsWritten).toEqual({ raw_sensor_data: 1 });
      expect(await ds.query(`SELECT tableoid::regclass::text AS part FROM raw_sensor_data WHERE file_id = $1`, [r.fileId])).toEqual([{ part: 'raw_sensor_data_default' }]);
      await inFlight.rollbackTransaction();
    } finally {
      await inFlight.release();
    }
  });

  it('a partition made while a COPY runs (rows it routes to the default partition are refused) loads every reading through the slow path', async () => {
    const partitions = new Partitions(ds, 'month');
    await partitions.ensure('raw_sensor_data', new Date(Date.UTC(2018, 0, 1)), new Date(Date.UTC(2018, 1, 1)));
    const fileId = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing')`, [fileId, fileId.replace(/-/g, '').padEnd(64, '0')]);
    const row = (h: number) => `${Date.UTC(2018, 0, 31, 20 + h) / 1000},race,${h}\n`;
    // January's readings, then February's once a partition for February was attached while the COPY is open (the
    // first time the file is read; the slow path reads it again).
    let attached = false;
    const copyOpen = async () => ((await ds.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY raw_sensor_data%' AND state = 'active'`)).length ? true : null);
    async function* file() {
      yield Buffer.from(`ts,device,temp\n${[0, 1, 2].map(row).join('')}`);
      if (!attached) {
        await waitFor('the COPY to be open', copyOpen, 10_000, 20);
        await partitions.ensure('raw_sensor_data', new Date(Date.UTC(2018, 1, 1)), new Date(Date.UTC(2018, 2, 1)));
        attached = true;
      }
      yield Buffer.from([4, 5, 6].map(row).join(''));
    }
    const r = await withTransaction(ds, (client) => registry.for('sensor_wide_csv')!.load(client, fileId, 'sensor_wide_csv', () => Readable.from(file()), skip));
    expect(r).toMatchObject({ rowsLoaded: 6, rowsRejected: 0, rejection: null, rowsWritten: { raw_sensor_data: 6 } });
    expect(await ds.query(`SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1 GROUP BY 1 ORDER BY 1`, [fileId])).toEqual([
      { part: 'raw_sensor_data_p20180101', n: 3 },
      { part: 'raw_sensor_data_p20180201', n: 3 },
    ]);
  });

  it('never waits on a load in flight that holds the table, and tries again by itself shortly after', async () => {
    const coverage = new PartitionCoverage(ds, loadConfig(ProcessorConfig, {}));
    const file = randomUUID();
    await ds.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, '2022-06-10T00:00:00Z', 1, $1)`, [file]);
    const inFlight = ds.createQueryRunner();
    await inFlight.connect();
    try {
      await inFlight.startTransaction();
      await inFlight.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, '2022-05-10T00:00:00Z', 2, $1)`, [file]);
      // Each attempt gives up at the lock timeout: nothing made, nothing moved, no error.
      expect(await coverage.afterLoad({ raw_sensor_data: 1 })).toEqual([]);
      await inFlight.commitTransaction();
    } finally {
      await inFlight.release();
    }
    // No other load comes: the pass it gave up is tried again by itself, and both rows get partitions of their own.
    const where = () => ds.query(`SELECT tableoid::regclass::text AS part FROM raw_sensor_data WHERE file_id = $1 ORDER BY ts`, [file]) as Promise<{ part: string }[]>;
    await waitFor('the retry to move the rows', async () => ((await where()).every((r) => r.part !== 'raw_sensor_data_default') ? true : null), 30_000, 200);
    expect(await where()).toEqual([{ part: 'raw_sensor_data_p20220501' }, { part: 'raw_sensor_data_p20220601' }]);
  }, 60_000);

  it('leaves a row far ahead of now in the default partition, counted, until the maintenance job rehomes it', async () => {
    const partitions = new Partitions(ds, 'month');
    const coverage = new PartitionCoverage(ds, loadConfig(ProcessorConfig, {}));
    const fiveYears = new Date(intervalStart(new Date(), 'month').getTime() + 5 * 365 * DAY);
    const r = await load('sensor_wide_csv', `ts,device,temp\n${fiveYears.getTime() / 1000},far-ahead,21.5\n`);
    expect(r.rowsWritten).toEqual({ raw_sensor_data: 1 });
    expect(await coverage.afterLoad(r.rowsWritten)).toEqual([]);
    expect((await partitions.defaultRows()).raw_sensor_data).toBe(1);

    const home = partitionName('raw_sensor_data', intervalStart(fiveYears, 'month'));
    const changes = await partitions.rehomeDefault();
    expect(changes.map((c) => [c.action, c.name, c.rows])).toEqual([
      ['create', home, undefined],
      ['move', home, 1],
    ]);
    expect(await ds.query(`SELECT tableoid::regclass::text AS part FROM raw_sensor_data WHERE file_id = $1`, [r.fileId])).toEqual([{ part: home }]);
    expect((await partitions.defaultRows()).raw_sensor_data).toBe(0);
  });

  describe('late_beyond_retention', () => {
    const now = Date.now();
    const horizon = now - 30 * DAY;
    const retention: Partial<LoadOptions> = { notBefore: { rawMicros: horizon * 1000, logMicros: horizon * 1000 } };
    const iso = (ms: number) => new Date(ms).toISOString();

    it('refuses wide and long CSV readings older than RAW_RETENTION keeps, on the time column, and loads the rest', async () => {
      const wide = ['ts,device,co,humidity,light,lpg,motion,smoke,temp'];
      for (const [i, age] of [40, 1, 31, 2].entries()) wide.push(`${(now - age * DAY) / 1000},dev${i},0.01,40,1,0.001,0,0.02,21.5`);
      const w = await load('sensor_wide_csv', `${wide.join('\n')}\n`, retention);
      expect(w).toMatchObject({ rowsTotal: 4, rowsLoaded: 2, rowsRejected: 2, rejection: null, rowsWritten: { raw_sensor_data: 14 } });
      expect(await errors(w.fileId)).toEqual([
        { line: 2, column: 'ts', rule: 'late_beyond_retention' },
        { line: 4, column: 'ts', rule: 'late_beyond_retention' },
      ]);

      const u = '11111111-1111-4111-8111-111111111111';
      const long = [';timestamp;sensor_uuid;sensor_value', `0;${iso(now - DAY)};${u};1`, `1;${iso(now - 45 * DAY)};${u};2`];
      const l = await load('sensor_long_csv', `${long.join('\n')}\n`, retention);
      expect(l).toMatchObject({ rowsLoaded: 1, rowsRejected: 1 });
      // The file's own name of its time column.
      expect(await errors(l.fileId)).toEqual([{ line: 3, column: 'timestamp', rule: 'late_beyond_retention' }]);
      // Unset retention keeps everything.
      expect(await load('sensor_long_csv', `${long.join('\n')}\n`)).toMatchObject({ rowsLoaded: 2, rowsRejected: 0 });
    });

    it('refuses late NDJSON readings and detections, and late items of a detections document', async () => {
      const lines = [
        { kind: 'sensor_reading', sensor: 'late/temp', ts: iso(now - 60 * DAY), value: 1 },
        { kind: 'sensor_reading', sensor: 'late/temp', ts: iso(now - DAY), value: 2 },
        { kind: 'detection', vehicle_id: 'v1', detection_time: iso(now - 90 * DAY), detections: [{ object_type: 'cars', object_value: 1 }] },
        { kind: 'detection', vehicle_id: 'v1', detection_time: iso(now - DAY), detections: [{ object_type: 'cars', object_value: 1 }] },
      ];
      const n = await load('ndjson', lines.map((x) => JSON.stringify(x)).join('\n'), retention);
      expect(n).toMatchObject({ rowsTotal: 4, rowsLoaded: 2, rowsRejected: 2, rowsWritten: { raw_sensor_data: 1, detection_events: 1 } });
      expect(await errors(n.fileId)).toEqual([
        { line: 1, column: 'ts', rule: 'late_beyond_retention' },
        { line: 3, column: 'detection_time', rule: 'late_beyond_retention' },
      ]);

      const doc = {
        objects_detection_events: [
          { vehicle_id: 'v2', detection_time: iso(now - DAY), detections: [{ object_type: 'cars', object_value: 1 }] },
          { vehicle_id: 'v2', detection_time: iso(now - 31 * DAY), detections: [{ object_type: 'cars', object_value: 1 }] },
        ],
      };
      const d = await load('detections', JSON.stringify(doc, null, 1), retention);
      expect(d).toMatchObject({ rowsLoaded: 1, rowsRejected: 1 });
      const [e] = await errors(d.fileId);
      expect(e).toEqual({ line: expect.any(Number), column: 'objects_detection_events[1].detection_time', rule: 'late_beyond_retention' });
    });

    it('late rows count toward MAX_INVALID_RATIO like any refused row', async () => {
      const wide = ['ts,device,co,humidity,light,lpg,motion,smoke,temp'];
      for (let i = 0; i < 4; i++) wide.push(`${(now - (40 + i) * DAY) / 1000},dev${i},0.01,40,1,0.001,0,0.02,21.5`);
      const r = await load('sensor_wide_csv', `${wide.join('\n')}\n`, retention);
      expect(r.rejection).not.toBeNull();
      expect(r.rowsWritten).toEqual({});
      expect(Number((await ds.query(`SELECT count(*) AS n FROM raw_sensor_data WHERE file_id = $1`, [r.fileId]))[0].n)).toBe(0);
    });

    it('refuses log lines older than LOG_RETENTION keeps; lines without a time are kept', async () => {
      const text = [`${iso(now - 40 * DAY)} ERROR old`, `${iso(now - DAY)} INFO new`, 'no time at all'].join('\n');
      const r = await load('log', text, retention);
      expect(r).toMatchObject({ rowsLoaded: 2, rowsRejected: 1, rowsWritten: { log_lines: 2 } });
      expect(await errors(r.fileId)).toEqual([{ line: 1, column: 'ts', rule: 'late_beyond_retention' }]);
    });
  });
});
