import 'reflect-metadata';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { migratedDatabase } from '../../test/migrated-database';
import { addIntervals, intervalStart, partitionName } from './partition-bounds';
import { Partitions } from './partitions';

const FILE = '00000000-0000-4000-8000-0000000000bb';
const utc = (s: string) => new Date(`${s}T00:00:00Z`);

describe('Partitions', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let url: string;
  let ds: DataSource;
  let monthly: Partitions;
  const now = new Date();

  beforeAll(async () => {
    db = await migratedDatabase('partitions');
    ({ url, ds } = db);
    monthly = new Partitions(ds, 'month');
  });

  afterAll(async () => {
    await db?.drop();
  });

  const relations = async () => ((await ds.query(`SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1`)) as unknown[]).map((r) => JSON.stringify(r));
  const where = async (ts: Date) => ((await ds.query(`SELECT tableoid::regclass::text AS t FROM raw_sensor_data WHERE ts = $1`, [ts])) as { t: string }[]).map((r) => r.t);

  it('lists the partitions the migration made: the current month through two ahead, and the defaults', async () => {
    const list = await monthly.list('raw_sensor_data');
    const month = intervalStart(now, 'month');
    expect(list.at(-1)).toEqual(expect.objectContaining({ name: 'raw_sensor_data_default', isDefault: true, from: null, to: null, rows: 0 }));
    expect(list.filter((p) => !p.isDefault).map((p) => p.from)).toEqual([0, 1, 2].map((n) => addIntervals(month, 'month', n)));
    expect(list.every((p) => p.table === 'raw_sensor_data' && p.bytes >= 0)).toBe(true);
    expect(new Set((await monthly.list()).map((p) => p.table))).toEqual(new Set(['raw_sensor_data', 'detection_events', 'log_lines']));
    // Already there: nothing to do.
    expect(await monthly.ensureAhead(now)).toEqual([]);
  });

  it('a dry run reports and changes nothing', async () => {
    const far = utc('2031-06-10');
    await ds.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, $1, 1, $2)`, [far, FILE]);
    await monthly.ensure('raw_sensor_data', utc('2019-01-01'), utc('2019-03-01'));
    const before = await relations();
    const ensured = await monthly.ensure('raw_sensor_data', utc('2031-05-20'), utc('2031-07-02'), { dryRun: true });
    expect(ensured.map((c) => [c.action, c.name, c.rows])).toEqual([
      ['create', 'raw_sensor_data_p20310501', undefined],
      ['create', 'raw_sensor_data_p20310601', undefined],
      ['move', 'raw_sensor_data_p20310601', 1],
      ['create', 'raw_sensor_data_p20310701', undefined],
    ]);
    expect((await monthly.rehomeDefault({ dryRun: true })).map((c) => c.action)).toEqual(['create', 'move']);
    expect((await monthly.dropBefore('raw_sensor_data', utc('2019-03-01'), { dryRun: true })).map((c) => c.name)).toEqual(['raw_sensor_data_p20190101', 'raw_sensor_data_p20190201']);
    expect(await relations()).toEqual(before);
    expect(await where(far)).toEqual(['raw_sensor_data_default']);
    await ds.query(`DELETE FROM raw_sensor_data WHERE ts = $1`, [far]);
  });

  it('moves a row five years ahead out of the default partition only when asked, and reports it meanwhile', async () => {
    const ahead = new Date(Date.UTC(now.getUTCFullYear() + 5, now.getUTCMonth(), 12, 8));
    await ds.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (7, $1, 2.5, $2), (8, $1, 3.5, $2)`, [ahead, FILE]);
    await ds.query(`INSERT INTO log_lines (file_id, line, ts, message) VALUES ($1, 1, NULL, 'no time')`, [FILE]);
    expect(await where(ahead)).toEqual(['raw_sensor_data_default', 'raw_sensor_data_default']);
    expect(await monthly.defaultRows()).toEqual({ raw_sensor_data: 2, detection_events: 0, log_lines: 0 });
    expect(await monthly.ensureAhead(now)).toEqual([]);
    expect(await monthly.defaultRows()).toEqual({ raw_sensor_data: 2, detection_events: 0, log_lines: 0 });

    const name = partitionName('raw_sensor_data', intervalStart(ahead, 'month'));
    const changes = await monthly.rehomeDefault();
    expect(changes.map((c) => [c.action, c.name, c.rows])).toEqual([
      ['create', name, undefined],
      ['move', name, 2],
    ]);
    expect(await where(ahead)).toEqual([name, name]);
    expect(await monthly.defaultRows()).toEqual({ raw_sensor_data: 0, detection_events: 0, log_lines: 0 });
    // The line without a time stays where it is.
    expect((await monthly.list('log_lines')).at(-1)?.rows).toBe(1);
    expect(await monthly.rehomeDefault()).toEqual([]);
  });

  it('narrows a range another interval already partly holds instead of failing', async () => {
    const weekly = new Partitions(ds, 'week');
    const monthEnd = addIntervals(intervalStart(now, 'month'), 'month', 3); // the end of the months the migration made
    const changes = await weekly.ensure('detection_events', new Date(monthEnd.getTime() - 10 * 86_400_000), new Date(monthEnd.getTime() + 8 * 86_400_000));
    const made = changes.filter((c) => c.action === 'create');
    expect(made[0]).toEqual(expect.objectContaining({ name: partitionName('detection_events', monthEnd), from: monthEnd }));
    for (const c of made) expect(c.from!.getTime()).toBeGreaterThanOrEqual(monthEnd.getTime());
    // Both, at once (two replicas): each partition made once, no error.
    const daily = [new Partitions(ds, 'day'), new Partitions(ds, 'day')];
    const far = utc('2040-02-03');
    const both = await Promise.all(daily.map((p) => p.ensure('detection_events', far, new Date(far.getTime() + 3 * 86_400_000))));
    expect(both.flat().map((c) => c.name).sort()).toEqual(['detection_events_p20400203', 'detection_events_p20400204', 'detection_events_p20400205']);
  });

  it('drops whole partitions before a horizon (never the default), skipping one it cannot lock until the next run', async () => {
    await monthly.ensure('log_lines', utc('2020-01-01'), utc('2020-03-01'));
    await ds.query(`INSERT INTO log_lines (file_id, line, ts, message) VALUES ($1, 10, '2020-01-05', 'old'), ($1, 11, '2020-02-05', 'old')`, [FILE]);
    const reader = new Client({ connectionString: url });
    await reader.connect();
    try {
      await reader.query(`BEGIN`);
      await reader.query(`SELECT count(*) FROM log_lines_p20200201`);
      const first = await monthly.dropBefore('log_lines', utc('2020-03-01'));
      expect(first.map((c) => [c.name, c.skipped])).toEqual([
        ['log_lines_p20200101', undefined],
        ['log_lines_p20200201', 'lock_timeout'],
      ]);
      await reader.query(`COMMIT`);
    } finally {
      await reader.end();
    }
    const second = await monthly.dropBefore('log_lines', utc('2020-03-01'));
    expect(second.map((c) => [c.action, c.name, c.skipped])).toEqual([['drop', 'log_lines_p20200201', undefined]]);
    expect((await monthly.list('log_lines')).map((p) => p.name)).not.toContain('log_lines_p20200201');
    expect(await ds.query(`SELECT line FROM log_lines WHERE message = 'old'`)).toEqual([]);
    expect((await monthly.list('log_lines')).some((p) => p.isDefault)).toBe(true);
  });
});
