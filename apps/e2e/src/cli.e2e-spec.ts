import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectedWide, FIXTURES, generateLongFormat, Stack, waitFor } from '@sluice/testing';
import { type CliRun, sluice } from './support/sluice-cli';

/** No stack trace ever reaches the user. */
const expectNoStack = (r: CliRun) => expect(r.stderr).not.toMatch(/\n\s+at /);

function stackEnv(stack: Stack): Record<string, string> {
  return {
    DATABASE_URL: stack.db.url,
    NATS_URL: stack.natsUrl,
    NATS_NAMESPACE: stack.namespace,
    DROPZONE_DIR: stack.dropzone,
    QUERY_API_URL: stack.opts.services?.includes('query-api') === false ? 'http://127.0.0.1:9' : stack.url('query-api'),
    QUERY_API_KEY: stack.queryKey,
    SLUICE_HOME: join(stack.dropzone, '..', 'no-such-home'),
  };
}

/**
 * The readings the generator wrote for one sensor, computed from its files alone: naive timestamps are
 * UTC, `+00:00` ones are UTC too; the API and the CLI take [start, end).
 */
function expectedFromGenerated(dir: string, sensor: string, from: string, to: string): { ts: string; value: number }[] {
  const mapping = readFileSync(join(dir, 'mapping', 'mapping.csv'), 'utf8').trim().split('\n').slice(1);
  const uuid = mapping.map((l) => l.split(';')).find(([, name]) => name === sensor)![0];
  const lo = Date.parse(from);
  const hi = Date.parse(to);
  const out: { ms: number; value: number }[] = [];
  for (const f of readdirSync(join(dir, 'timeseries')).sort()) {
    for (const line of readFileSync(join(dir, 'timeseries', f), 'utf8').trim().split('\n').slice(1)) {
      const [, ts, id, value] = line.split(';');
      if (id !== uuid) continue;
      const iso = ts.replace(' ', 'T').replace(/\+00:00$/, '') + 'Z';
      const ms = Date.parse(iso);
      if (ms >= lo && ms < hi) out.push({ ms, value: Number(value) });
    }
  }
  return out.sort((a, b) => a.ms - b.ms).map((r) => ({ ts: new Date(r.ms).toISOString().replace('.000Z', '.000000Z'), value: r.value }));
}

describe('sluice CLI (as a process, against a running stack)', () => {
  let stack: Stack;
  let env: Record<string, string>;
  let work: string;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'cli', services: ['watcher', 'processor', 'query-api'], env: { LOG_LEVEL: 'warn' } });
    env = stackEnv(stack);
    work = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  });

  afterAll(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('retrieve-sensor-readings', () => {
    const gen = () => join(work, 'generated');
    const range = ['--start-timestamp', '2012-12-31T23:07:00+00', '--end-timestamp', '2013-02-16T11:03:00+00'];

    beforeAll(async () => {
      generateLongFormat(gen(), { sensors: 50, rows: 40000, files: 4, bad: 0 });
      // The seed-004 layout through the drop folder: the mapping and the timeseries, renamed in.
      const staging = mkdtempSync(join(stack.dropzone, '..', 'staging-'));
      const files = [join('mapping', 'mapping.csv'), ...readdirSync(join(gen(), 'timeseries')).map((f) => join('timeseries', f))];
      for (const f of files) {
        const name = f.replace('/', '-');
        copyFileSync(join(gen(), f), join(staging, name));
        renameSync(join(staging, name), join(stack.dropzone, 'incoming', name));
      }
      expect(await stack.waitForTerminal(files.length)).toEqual({ processed: files.length });
    });

    it('prints page 2 of 10 readings of sensor_00007, equal to an independent reading of the generated files', async () => {
      const r = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', ...range, '--page-number', '2', '--page-size', '10', '--format', 'json'], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const got = (JSON.parse(r.stdout) as { ts: string; value: number }[]).map(({ ts, value }) => ({ ts, value }));
      const all = expectedFromGenerated(gen(), 'sensor_00007', '2012-12-31T23:07:00Z', '2013-02-16T11:03:00Z');
      expect(all.length).toBe(40000 / 50);
      expect(got).toEqual(all.slice(10, 20));
    });

    it('prints the same rows as a table and as CSV', async () => {
      const expected = expectedFromGenerated(gen(), 'sensor_00007', '2012-12-31T23:07:00Z', '2013-02-16T11:03:00Z').slice(10, 20);
      const table = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', ...range, '--page-number', '2', '--page-size', '10'], env);
      expect(table.code).toBe(0);
      const tableRows = table.stdout.split('\n').filter((l) => /^│ \d{4}-/.test(l));
      expect(tableRows.map((l) => l.split('│').map((c) => c.trim()).slice(1, 3))).toEqual(expected.map((e) => [e.ts, String(e.value)]));

      const csv = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', ...range, '--page-number', '2', '--page-size', '10', '--format', 'csv'], env);
      expect(csv.code).toBe(0);
      const lines = csv.stdout.trim().split('\n');
      expect(lines[0]).toBe('ts,value,file_id');
      expect(lines.slice(1).map((l) => l.split(',').slice(0, 2))).toEqual(expected.map((e) => [e.ts, String(e.value)]));
    });

    it('prints the whole range without page options (CSV streamed from the export), end excluded', async () => {
      const end = '2013-01-01T00:00:00';
      const r = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', '--start-timestamp', '2012-12-31 23:07:00', '--end-timestamp', end, '--format', 'csv'], env);
      expect(r.code).toBe(0);
      const got = r.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
      expect(got).toEqual(expectedFromGenerated(gen(), 'sensor_00007', '2012-12-31T23:07:00Z', `${end}Z`).map((e) => e.ts));
      expect(got).toHaveLength(53); // 23:07 … 23:59, one a minute; midnight is the excluded end
    });

    it('fails clearly: unknown sensor (1), bad timestamp or option (2), no key (1)', async () => {
      const unknown = await sluice(['retrieve-sensor-readings', '--sensor-name', 'nope', ...range], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^sluice: the query API answered 404: sensor "nope" not found\n$/);

      const badTs = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', '--start-timestamp', '2013-02-30', '--end-timestamp', '2013-03-01'], env);
      expect(badTs.code).toBe(2);
      expect(badTs.stderr).toContain('--start-timestamp');

      const missing = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007'], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('--start-timestamp');

      const noKey = await sluice(['retrieve-sensor-readings', '--sensor-name', 'sensor_00007', ...range], { ...env, QUERY_API_KEY: '' });
      expect(noKey.code).toBe(1);
      expect(noKey.stderr).toContain('401');
      for (const r of [unknown, badTs, missing, noKey]) expectNoStack(r);
    });
  });

  describe('backfill, status, replay, migrate', () => {
    const SEEDS = readdirSync(join(FIXTURES, 'sensors')).filter((f) => f.endsWith('.csv')).sort();

    beforeAll(async () => {
      // A fresh ledger for exact counts.
      await stack.query('TRUNCATE ingest_files, ingest_errors, raw_sensor_data, aggregated_metrics, sensors');
    });

    it('loads a folder tree, follows it to the end and reports the same counts as the drop-folder path', async () => {
      const dir = join(work, 'tree');
      mkdirSync(join(dir, 'nested'), { recursive: true });
      SEEDS.forEach((f, i) => copyFileSync(join(FIXTURES, 'sensors', f), join(dir, i % 2 ? 'nested' : '', f)));
      writeFileSync(join(dir, '.hidden.csv'), 'ignored');
      writeFileSync(join(dir, 'empty.csv'), '');

      const r = await sluice(['backfill', dir, '--stall-seconds', '20'], env);
      expect(r.code).toBe(0);
      expectNoStack(r);

      const expected = SEEDS.map((f) => expectedWide(join(FIXTURES, 'sensors', f)));
      const readings = expected.reduce((n, e) => n + e.readings, 0);
      const rejected = expected.reduce((n, e) => n + e.badLines.length, 0);
      expect(await stack.count('raw_sensor_data')).toBe(readings);
      const rows = await stack.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM ingest_files GROUP BY status ORDER BY status');
      expect(rows.map((x) => [x.status, Number(x.n)])).toEqual([['processed', SEEDS.length], ['quarantined', 1]]);

      // The summary table says the same.
      const cell = (label: string) => new RegExp(`│ ${label}\\s+│ ([\\d,]+)\\s+│`).exec(r.stdout)?.[1]?.replace(/,/g, '');
      expect(cell('processed')).toBe(String(SEEDS.length));
      expect(cell('quarantined')).toBe('1');
      expect(cell('readings loaded')).toBe(String(readings));
      expect(cell('lines rejected')).toBe(String(rejected));
      expect(cell('sensors')).toBe(String(await stack.count('sensors')));
      expect(r.stderr).toContain('files');

      // The watcher settles the copies as it does for dropped files; the source folder is untouched.
      await waitFor('processing/ empty', async () => readdirSync(join(stack.dropzone, 'processing')).filter((f) => !f.startsWith('.')).length === 0, 30000);
      expect(readdirSync(join(dir, 'nested')).length).toBe(Math.floor(SEEDS.length / 2));

      // The same tree again (less the empty file): every file is recorded as a duplicate, nothing loads twice.
      rmSync(join(dir, 'empty.csv'));
      const again = await sluice(['backfill', dir, '--stall-seconds', '20'], env);
      expect(again.code).toBe(0);
      expect(new RegExp(`│ duplicate\\s+│ ${SEEDS.length}\\s+│`).test(again.stdout)).toBe(true);
      expect(await stack.count('raw_sensor_data')).toBe(readings);
    });

    it('status reports the ledger: counts per status and the recent error', async () => {
      const r = await sluice(['status', '--json'], env);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as { statuses: Record<string, number>; inFlightTotal: number; recentErrors: { name: string; rule: string }[] };
      expect(report.statuses).toMatchObject({ processed: SEEDS.length, duplicate: SEEDS.length, quarantined: 1, queued: 0, processing: 0 });
      expect(report.inFlightTotal).toBe(0);
      expect(report.recentErrors).toEqual([expect.objectContaining({ name: 'empty.csv', rule: 'empty_file' })]);
      const text = await sluice(['status'], env);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('empty_file');
    });

    it('why explains one file: its whole reason, where its bytes are, and the command that replays it', async () => {
      const [row] = await stack.query<{ id: string }>(`SELECT id FROM ingest_files WHERE original_name = 'empty.csv'`);
      const r = await sluice(['why', 'empty.csv'], env);
      expectNoStack(r);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`empty.csv  (${row.id})`);
      expect(r.stdout).toMatch(/reason\s+empty_file: /);
      expect(r.stdout).toContain(`Replay: sluice replay ${row.id}`);
      const json = JSON.parse((await sluice(['why', row.id, '--json'], env)).stdout) as { status: string; reason: { rule: string } };
      expect(json).toMatchObject({ status: 'quarantined', reason: { rule: 'empty_file' } });
      const missing = await sluice(['why', 'never-dropped.csv'], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no file named "never-dropped.csv" in the ledger');
    });

    it('replay --quarantined re-runs the quarantined file and follows it back to its outcome', async () => {
      await waitFor('quarantined file settled', async () => (await stack.query<{ p: string }>(`SELECT stored_path AS p FROM ingest_files WHERE status = 'quarantined'`))[0]?.p.startsWith('quarantine/'), 30000);
      const r = await sluice(['replay', '--quarantined', '--since', '2000-01-01'], env);
      expectNoStack(r);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/│ quarantined\s+│ 1\s+│/);
      const [row] = await stack.query<{ status: string; replays: number }>(`SELECT status, replays FROM ingest_files WHERE original_name = 'empty.csv'`);
      expect(row).toEqual({ status: 'quarantined', replays: 1 });

      // One file by its id, as `sluice why` prints the command.
      await waitFor('replayed file settled', async () => (await stack.query<{ p: string }>(`SELECT stored_path AS p FROM ingest_files WHERE status = 'quarantined'`))[0]?.p.startsWith('quarantine/'), 30000);
      const [{ id }] = await stack.query<{ id: string }>(`SELECT id FROM ingest_files WHERE original_name = 'empty.csv'`);
      const one = await sluice(['replay', id], env);
      expectNoStack(one);
      expect(one.code).toBe(0);
      expect((await stack.query<{ replays: number }>(`SELECT replays FROM ingest_files WHERE id = $1`, [id]))[0].replays).toBe(2);

      const usage = await sluice(['replay'], env);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('--quarantined');
    });

    it('migrate reports an up-to-date schema', async () => {
      const r = await sluice(['migrate'], env);
      expect(r).toMatchObject({ code: 0, stdout: 'schema is up to date\n' });
    });

    it('refuses to backfill when no processor consumes the queue, and enqueues nothing', async () => {
      await stack.kill('processor', 0, 'SIGTERM');
      // Its pull requests expire within a few seconds.
      await new Promise((r) => setTimeout(r, 3000));
      const before = await stack.count('ingest_files');
      const dir = join(work, 'one');
      mkdirSync(dir);
      copyFileSync(join(FIXTURES, 'sensors', SEEDS[0]), join(dir, 'copy.csv'));
      const r = await sluice(['backfill', dir], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no processor is running');
      expectNoStack(r);
      expect(await stack.count('ingest_files')).toBe(before);
      await stack.restart('processor');
    });

    it('says clearly when the database is unreachable', async () => {
      const r = await sluice(['status'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sluice: cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/none \(DATABASE_URL\)/);
      expectNoStack(r);
    });
  });
});
