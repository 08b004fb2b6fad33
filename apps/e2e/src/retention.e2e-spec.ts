import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, waitFor } from '@sluice/testing';
import { sluice } from './support/sluice-cli';

/**
 * Runs for a year, as its operator sees it: 90 days of readings loaded by the real stack into daily partitions,
 * then `sluice maintenance` (a process, as a person runs it) with RAW_RETENTION=30d and PROCESSED_RETENTION=7d:
 * whole partitions dropped, never a DELETE, aggregates untouched, files gone but still known; then a late row
 * and one five years ahead through the processor.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEVICES = ['greenhouse', 'cellar'];

/** One `temp` reading per device per hour in [from, to). */
function hourly(from: number, to: number): string {
  const lines = ['ts,device,temp'];
  for (let t = from; t < to; t += HOUR) for (const [i, d] of DEVICES.entries()) lines.push(`${t / 1000},${d},${(15 + i + ((t / HOUR) % 10) / 10).toFixed(1)}`);
  return `${lines.join('\n')}\n`;
}

interface Partition {
  name: string;
  from: Date | null;
  to: Date | null;
}

describe('partitions and retention (real stack, sluice maintenance as a process)', () => {
  let stack: Stack;
  const processorEnv: Record<string, string> = {};
  let cli: Record<string, string>;
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  const start = end - 90 * DAY;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'retention',
      services: ['watcher', 'processor'],
      // The schedule stays out of the way (1 January): the test runs the job itself.
      env: { PARTITION_INTERVAL: 'day', MAINTENANCE_CRON: '0 0 1 1 *', LOG_LEVEL: 'warn' },
      serviceEnv: { processor: processorEnv },
    });
    cli = { DATABASE_URL: stack.db.url, NATS_URL: stack.natsUrl, NATS_NAMESPACE: stack.namespace, DROPZONE_DIR: stack.dropzone, PARTITION_INTERVAL: 'day' };
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const partitions = async (): Promise<Partition[]> =>
    (
      await stack.query<{ name: string; bound: string }>(
        `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'raw_sensor_data'::regclass ORDER BY 1`,
      )
    ).map(({ name, bound }) => {
      const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(bound);
      return { name, from: m ? new Date(m[1]) : null, to: m ? new Date(m[2]) : null };
    });
  const dailyAggregates = () => stack.query(`SELECT sensor_id, bucket_start, count, min, max, mean, m2 FROM aggregated_metrics WHERE bucket = 'day' ORDER BY 1, 2`);
  // Of the range partitions (retention's domain): a load's rows moved out of the default partition leave dead versions there, whenever its stats are flushed.
  const deadTuples = async () =>
    Number(
      (await stack.query<{ n: string }>(
        `SELECT coalesce(sum(n_dead_tup), 0) AS n FROM pg_stat_user_tables WHERE relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'raw_sensor_data'::regclass) AND relname <> 'raw_sensor_data_default'`,
      ))[0].n,
    );
  const drop = (name: string, text: string) => stack.drop(name, (p) => writeFileSync(p, text));
  const defaultRowsMetric = async () => {
    const text = await (await fetch(`${stack.url('watcher')}/metrics`)).text();
    const m = /^sluice_partition_default_rows\{[^}]*table="raw_sensor_data"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it('loads 90 days into daily partitions, then drops exactly the ones past RAW_RETENTION, leaving aggregates as they were', async () => {
    for (let i = 0; i < 3; i++) drop(`greenhouse-${i}.csv`, hourly(start + i * 30 * DAY, start + (i + 1) * 30 * DAY));
    expect(await stack.waitForTerminal(3, 120_000)).toEqual({ processed: 3 });
    expect(await stack.count('raw_sensor_data')).toBe(90 * 24 * DEVICES.length);
    // Each load made its days' partitions once it had committed: soon nothing waits in the default one.
    await waitFor('the loaded days in partitions of their own', async () => ((await stack.count('raw_sensor_data_default')) === 0 ? true : null), 30_000, 200);
    const aggregates = await dailyAggregates();
    expect(aggregates.length).toBeGreaterThanOrEqual(90 * DEVICES.length);
    const before = await partitions();
    const deadBefore = await deadTuples();

    // A dry run says what it would do and changes nothing: partitions, rows, runs recorded, the drop folder.
    const env = { ...cli, RAW_RETENTION: '30d', PROCESSED_RETENTION: '7d' };
    const folder = () => ['processed', 'quarantine', 'incoming'].map((d) => readdirSync(join(stack.dropzone, d)).sort());
    await waitFor('the three files filed in processed/', async () => (folder()[0].length === 3 ? true : null), 30_000, 200);
    const folderBefore = folder();
    const dry = await sluice(['maintenance', '--dry-run'], env);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(/^maintenance dry run: nothing was changed$/m);
    expect(dry.stdout).toMatch(/^ {2}partition would drop raw_sensor_data_p\d{8} /m);
    expect(await partitions()).toEqual(before);
    expect(await stack.count('raw_sensor_data')).toBe(90 * 24 * DEVICES.length);
    expect(await stack.count('maintenance_runs')).toBe(0);
    expect(folder()).toEqual(folderBefore);

    const t0 = Date.now();
    const run = await sluice(['maintenance', '--json'], env);
    const t1 = Date.now();
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(run.stdout) as { partitions: { action: string; name: string; skipped?: string }[]; errors: object };
    expect(report.errors).toEqual({});

    // Every partition wholly before the horizon is gone; every other one is kept.
    const [early, late] = [t0 - 30 * DAY, t1 - 30 * DAY];
    const after = await partitions();
    const ranged = (ps: Partition[]) => ps.filter((p) => p.to !== null);
    expect(ranged(after).every((p) => p.to!.getTime() > early)).toBe(true);
    const expired = ranged(before).filter((p) => p.to!.getTime() <= early).map((p) => p.name);
    expect(expired.length).toBeGreaterThanOrEqual(59);
    expect(report.partitions.filter((c) => c.action === 'drop' && !c.skipped).map((c) => c.name).sort()).toEqual(expired.sort());
    for (const p of ranged(before).filter((p) => p.to!.getTime() > late)) expect(after.map((a) => a.name)).toContain(p.name);

    // The readings of the kept days are all there; none older than the oldest kept partition.
    const oldestKept = Math.min(...ranged(after).map((p) => p.from!.getTime()));
    expect(oldestKept).toBeLessThanOrEqual(late);
    const expected = Math.max(0, (end - Math.max(oldestKept, start)) / HOUR) * DEVICES.length;
    expect(await stack.count('raw_sensor_data')).toBe(expected);
    // Dropped, not deleted: no dead row versions came of it (pg_stat is flushed within a second).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await deadTuples()).toBeLessThanOrEqual(deadBefore);
    // Aggregates outlive the readings: the expired days' figures are exactly as before.
    expect(await dailyAggregates()).toEqual(aggregates);
    expect(await stack.count('maintenance_runs')).toBe(1);
  }, 300_000);

  it('removes filed files past PROCESSED_RETENTION, still knows their bytes, and refuses to replay them', async () => {
    await stack.query(`UPDATE ingest_files SET finished_at = finished_at - interval '10 days' WHERE original_name = 'greenhouse-0.csv'`);
    const [{ id, stored_path }] = await stack.query<{ id: string; stored_path: string }>(`SELECT id, stored_path FROM ingest_files WHERE original_name = 'greenhouse-0.csv'`);
    const bytes = readFileSync(join(stack.dropzone, stored_path));
    const run = await sluice(['maintenance'], { ...cli, PROCESSED_RETENTION: '7d' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^ {2}processed\/ before \S+: 1 files, [\d.]+ KiB removed \(/m);
    expect(existsSync(join(stack.dropzone, stored_path))).toBe(false);
    const [row] = await stack.query<{ expired_at: Date | null }>(`SELECT expired_at FROM ingest_files WHERE id = $1`, [id]);
    expect(row.expired_at).toBeInstanceOf(Date);

    // The same bytes again are a duplicate: the ledger row outlives its file.
    drop('greenhouse-0-again.csv', bytes.toString('utf8'));
    expect(await stack.waitForTerminal(4, 60_000)).toEqual({ processed: 3, duplicate: 1 });
    // And a replay says why there is nothing to replay.
    const replay = await sluice(['replay', id, '--no-wait'], cli);
    expect(`${replay.stdout}${replay.stderr}`).toMatch(/file_expired: its bytes were removed by retention/);
  }, 120_000);

  it('refuses a reading older than RAW_RETENTION keeps; one five years ahead waits in the default partition, in /metrics, until the job moves it', async () => {
    // The processor now runs with the retention the job used.
    processorEnv['RAW_RETENTION'] = '30d';
    await stack.kill('processor');
    await stack.restart('processor');
    const day45 = end - 45 * DAY;
    const fiveYears = end + 5 * 365 * DAY;
    drop('late-and-early.csv', `ts,device,temp\n${day45 / 1000},greenhouse,20.5\n${(end - DAY) / 1000},greenhouse,21.5\n${fiveYears / 1000},greenhouse,22.5\n`);
    await stack.waitForTerminal(5, 60_000);
    const [file] = await stack.query<{ id: string; status: string }>(`SELECT id, status FROM ingest_files WHERE original_name = 'late-and-early.csv'`);
    expect(file.status).toBe('processed');
    expect(await stack.query(`SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1`, [file.id])).toEqual([{ line: 2, column: 'ts', rule: 'late_beyond_retention' }]);
    expect(await stack.query(`SELECT tableoid::regclass::text AS part, value FROM raw_sensor_data WHERE file_id = $1 AND ts > now() ORDER BY ts`, [file.id])).toEqual([{ part: 'raw_sensor_data_default', value: 22.5 }]);
    expect(await stack.query(`SELECT count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1`, [file.id])).toEqual([{ n: 2 }]);
    await waitFor('the default partition row in the watcher /metrics', async () => ((await defaultRowsMetric()) === 1 ? true : null), 40_000, 500);

    const run = await sluice(['maintenance'], { ...cli, RAW_RETENTION: '30d' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^ {2}partition moved rows into raw_sensor_data_p\d{8} .*1 rows/m);
    expect(await stack.count('raw_sensor_data_default')).toBe(0);
    await waitFor('the watcher /metrics to see it moved', async () => ((await defaultRowsMetric()) === 0 ? true : null), 40_000, 500);
  }, 180_000);
});
