import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CheckReport } from '@sluice/loading';
import { FIXTURES, Stack, waitFor, WORKSPACE_ROOT } from '@sluice/testing';
import { sluice } from './support/sluice-cli';

// Data contracts end to end: the CLI as a process, the four services as processes, real PostgreSQL and NATS.
// One stack for every criterion, in order; each criterion uses contracts and file names of its own.

const EXAMPLES = join(WORKSPACE_ROOT, 'examples/contracts');
const example = (name: string) => readFileSync(join(EXAMPLES, name));
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

interface LedgerRow {
  id: string;
  status: string;
  kind: string | null;
  contract_name: string | null;
  contract_hash: string | null;
  rows_total: string;
  rows_loaded: string;
  rows_rejected: string;
  error: { rule: string; message: string } | null;
}

interface Health {
  status: string;
  details: Record<string, { status: string; degraded?: boolean; message?: string }>;
}

interface DatasetInfo {
  name: string;
  table: string;
  version: string;
  table_exists: boolean;
  rows: number;
  rows_exact: boolean;
  columns: { name: string; type: string }[];
}

type Row = Record<string, unknown>;

let stack: Stack;
let env: Record<string, string>;
let work: string;

/** The CLI's environment against the stack, as a user of this installation would have it. */
function stackEnv(s: Stack): Record<string, string> {
  return {
    DATABASE_URL: s.db.url,
    NATS_URL: s.natsUrl,
    NATS_NAMESPACE: s.namespace,
    DROPZONE_DIR: s.dropzone,
    CONTRACTS_DIR: s.contractsDir,
    QUERY_API_URL: s.url('query-api'),
    QUERY_API_KEY: s.queryKey,
    SLUICE_HOME: join(s.dropzone, '..', 'no-such-home'),
  };
}

const cli = (...args: string[]) => sluice(args, env);

/** `sluice check FILE --json`: its one report. */
async function check(file: string): Promise<CheckReport> {
  const r = await cli('check', file, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout.trim()) as CheckReport;
}

/** Drops a file into incoming/ (written beside it and renamed in) and waits for its ledger row to be terminal. */
async function dropAndWait(name: string, bytes: Buffer | string, timeoutMs = 60000): Promise<LedgerRow> {
  stack.drop(name, (p) => writeFileSync(p, bytes));
  return waitFor(
    `${name} terminal`,
    async () => {
      const [row] = await stack.query<LedgerRow>(
        `SELECT id, status, kind, contract_name, contract_hash, rows_total, rows_loaded, rows_rejected, error
           FROM ingest_files WHERE original_name = $1 ORDER BY created_at DESC LIMIT 1`,
        [name],
      );
      return row && ['processed', 'duplicate', 'quarantined', 'failed'].includes(row.status) ? row : null;
    },
    timeoutMs,
    200,
  );
}

const rowErrors = (fileId: string) =>
  stack.query<{ rule: string; line: number }>('SELECT rule, line FROM ingest_errors WHERE file_id = $1 ORDER BY line, rule', [fileId]);

async function api(service: 'query-api' | 'ingest-api', path: string, headers: Record<string, string> = {}): Promise<Response> {
  const key = service === 'query-api' ? stack.queryKey : stack.ingestKey;
  return fetch(`${stack.url(service)}${path}`, { headers: { 'x-api-key': key, ...headers } });
}

async function datasets(): Promise<{ datasets: DatasetInfo[]; problems: { file: string; message: string }[] }> {
  const res = await api('query-api', '/datasets');
  expect(res.status).toBe(200);
  return (await res.json()) as { datasets: DatasetInfo[]; problems: { file: string; message: string }[] };
}

/** Every row of a dataset, following next_cursor with a small page. */
async function allPages(name: string, limit = 4): Promise<{ rows: Row[]; pages: number; columns: string[] }> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let columns: string[] = [];
  do {
    const res = await api('query-api', `/datasets/${name}/rows?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: Row[]; next_cursor: string | null; columns: (string | { name: string })[] };
    expect(body.rows.length).toBeLessThanOrEqual(limit);
    rows.push(...body.rows);
    columns = body.columns.map((c) => (typeof c === 'string' ? c : c.name));
    cursor = body.next_cursor;
    pages++;
  } while (cursor);
  return { rows, pages, columns };
}

/** The CSV export: its header and its rows (no value of these datasets holds a comma or a quote). */
async function csvExport(name: string): Promise<{ header: string[]; rows: string[][] }> {
  const res = await api('query-api', `/datasets/${name}/rows`, { accept: 'text/csv' });
  expect(res.status).toBe(200);
  const lines = (await res.text()).trim().split(/\r?\n/);
  return { header: lines[0].split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

async function ready(service: 'query-api' | 'ingest-api' | 'processor' | 'watcher'): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${stack.url(service)}/health/ready`);
  return { code: res.status, body: (await res.json()) as Health };
}

/** The processor's log lines (pino JSON), parsed. */
function processorLog(): { level: number; msg: string }[] {
  return readFileSync(join(stack.logDir, 'processor-0.log'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

const tableColumns = async (table: string) =>
  stack.query<{ column_name: string; is_nullable: string }>(
    `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'datasets' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );

const allTables = async () =>
  (await stack.query<{ t: string }>(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)).map((r) => r.t);

/**
 * The instant a Europe/Berlin wall time names, computed with Intl alone: the zone's offset at a guess, corrected
 * once; null when no instant has that wall time (the spring gap).
 */
function berlinInstant(y: number, mo: number, d: number, h: number, mi: number): number | null {
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  const wall = (ms: number) => {
    const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
    return Date.UTC(p['year'], p['month'] - 1, p['day'], p['hour'], p['minute']);
  };
  const target = Date.UTC(y, mo - 1, d, h, mi);
  for (const probe of [target - 3600_000, target - 7200_000]) {
    const candidate = target - (wall(probe) - probe);
    if (wall(candidate) === target) return candidate;
  }
  return null;
}

const pad = (n: number) => String(n).padStart(2, '0');

beforeAll(async () => {
  stack = await Stack.start({ label: 'contracts', services: ['watcher', 'processor', 'ingest-api', 'query-api'] });
  env = stackEnv(stack);
  work = mkdtempSync(join(tmpdir(), 'sluice-contracts-'));
});

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('1. a new user: contract init, check, load, read back', () => {
  /** check's counts, the load's ledger row and row errors agree; returns the check report. */
  async function checkThenLoad(file: string): Promise<{ report: CheckReport; row: LedgerRow }> {
    const path = join(EXAMPLES, file);
    const report = await check(path);
    expect(report).toMatchObject({ kind: 'contract', verdict: 'load' });
    const row = await dropAndWait(file, readFileSync(path));
    expect(row).toMatchObject({ status: 'processed', kind: 'contract', contract_name: report.contract });
    expect(Number(row.rows_loaded)).toBe(report.would_load);
    expect(Number(row.rows_rejected)).toBe(Object.values(report.rejected).reduce((a, b) => a + b, 0));
    // The check keeps a few samples of each rule; these files reject fewer than that, so the samples are every error.
    const errors = await rowErrors(row.id);
    expect(errors).toEqual(report.samples.map((s) => ({ rule: s.rule, line: s.line })).sort((a, b) => a.line - b.line));
    return { report, row };
  }

  /** GET /datasets, paged rows and the CSV export show exactly the table's rows. */
  async function expectReadBack(name: string, table: string, keyOrder: string, expectedRows: number): Promise<void> {
    const inTable = await stack.query<{ file_id: string; line: number }>(`SELECT file_id::text, line FROM datasets.${table} ORDER BY ${keyOrder}`);
    expect(inTable).toHaveLength(expectedRows);
    const listed = (await datasets()).datasets.find((d) => d.name === name);
    expect(listed).toMatchObject({ table: `datasets.${table}`, table_exists: true, rows: expectedRows, rows_exact: true });

    const { rows, pages, columns } = await allPages(name, 4);
    expect(pages).toBe(Math.max(1, Math.ceil(expectedRows / 4)));
    expect(rows.map((r) => ({ file_id: r['file_id'], line: r['line'] }))).toEqual(inTable);

    const csv = await csvExport(name);
    expect(csv.header).toEqual(columns);
    expect(csv.rows).toEqual(rows.map((r) => columns.map((c) => (r[c] === null ? '' : String(r[c])))));
  }

  it('weather (CSV, local times): init with --timezone, check, load, read back', async () => {
    const init = await cli('contract', 'init', join(EXAMPLES, 'weather_2024-03-31.csv'), '--name', 'weather', '--timezone', 'Europe/Berlin', '--contracts-dir', stack.contractsDir);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`wrote ${join(stack.contractsDir, 'weather.yaml')}`);
    // A person's edit: humidity is a percentage, which a sample cannot tell (the 07:30 row says 104).
    const path = join(stack.contractsDir, 'weather.yaml');
    const yaml = readFileSync(path, 'utf8');
    expect(yaml).toContain('name: luftfeuchte, type: int, required: true }');
    writeFileSync(path, yaml.replace('name: luftfeuchte, type: int, required: true }', 'name: luftfeuchte, type: int, required: true, min: 0, max: 100 }'));

    const { report } = await checkThenLoad('weather_2024-03-31.csv');
    expect(report).toMatchObject({ rows_total: 30, would_load: 29, rejected: { out_of_range: 1 } });
    await expectReadBack('weather', 'weather', 'station, zeit', 29);
  });

  it('orders (NDJSON, updates): init, the key edited to newest_wins, check and load both files, read back', async () => {
    const init = await cli('contract', 'init', join(EXAMPLES, 'orders-000123.ndjson'), '--name', 'orders', '--contracts-dir', stack.contractsDir);
    expect(init.code).toBe(0);
    // The sample has each order once, so init guesses the key (order_id, updated_at); init says to check the key.
    // A person knows an order is one row, updated by later events: key order_id, the newest update wins.
    expect(init.stdout).toMatch(/key\s+order_id, updated_at/);
    const path = join(stack.contractsDir, 'orders.yaml');
    const yaml = readFileSync(path, 'utf8');
    const edited = yaml
      .replace(/key: \[ order_id, updated_at \].*\n/, 'key: [ order_id ]\n')
      .replace(/on_duplicate_key: reject.*\n/, 'on_duplicate_key: newest_wins\n  newest_by: updated_at\n');
    expect(edited).not.toBe(yaml);
    writeFileSync(path, edited);

    const first = await checkThenLoad('orders-000123.ndjson');
    expect(first.report).toMatchObject({ rows_total: 6, would_load: 6, duplicate_rows: 0 });
    // Checked after the first file is loaded: its orders are keys already loaded.
    const second = await checkThenLoad('orders-000124.ndjson');
    expect(second.report.rows_total).toBe(5);
    const orderIds = new Set(
      ['orders-000123.ndjson', 'orders-000124.ndjson'].flatMap((f) => example(f).toString().trim().split('\n').map((l) => (JSON.parse(l) as { order_id: string }).order_id)),
    );
    await expectReadBack('orders', 'orders', 'order_id', orderIds.size);
  });

  it('meters (JSON document, records found by init): init, check, load, read back', async () => {
    const init = await cli('contract', 'init', join(EXAMPLES, 'meter-export.json'), '--name', 'meters', '--contracts-dir', stack.contractsDir);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('records_path "data.readings"');
    const { report } = await checkThenLoad('meter-export.json');
    expect(report).toMatchObject({ rows_total: 8, would_load: 8 });
    await expectReadBack('meters', 'meters', 'meter, read_at', 8);
  });
});

describe('2. weather over the spring clock change: tz_gap rows, exact instants', () => {
  it('rejects 02:00 and 02:30 local as tz_gap and stores every other row at the instant Intl computes', async () => {
    // Every half hour from 30.03. 22:00 to 31.03. 05:30 local (Europe/Berlin), in the example's format.
    const times: [number, number, number, number][] = [];
    for (let i = 0; i < 16; i++) {
      const h = 22 + Math.floor(i / 2);
      times.push(h < 24 ? [30, h, (i % 2) * 30, i] : [31, h - 24, (i % 2) * 30, i]);
    }
    const lines = times.map(([d, h, m, i]) => `TZ-1;${pad(d)}.03.2024 ${pad(h)}:${pad(m)};${5 + i},5;${60 + i};clear`);
    const file = `Station;Zeit;Temperatur;Luftfeuchte;Wetter\n${lines.join('\n')}\n`;
    const row = await dropAndWait('weather_2024-03-31-tz.csv', file);
    expect(row).toMatchObject({ status: 'processed', contract_name: 'weather' });

    const expected = times.map(([d, h, m], i) => ({ line: i + 2, instant: berlinInstant(2024, 3, d, h, m) }));
    const gaps = expected.filter((e) => e.instant === null);
    expect(gaps.map((g) => g.line)).toEqual([2 + times.findIndex(([d, h, m]) => d === 31 && h === 2 && m === 0), 2 + times.findIndex(([d, h, m]) => d === 31 && h === 2 && m === 30)]);
    expect(await rowErrors(row.id)).toEqual(gaps.map((g) => ({ rule: 'tz_gap', line: g.line })));

    const stored = await stack.query<{ line: number; ms: string }>(`SELECT line, (extract(epoch FROM zeit) * 1000)::bigint::text AS ms FROM datasets.weather WHERE file_id = $1 ORDER BY line`, [row.id]);
    expect(stored.map((s) => ({ line: s.line, instant: Number(s.ms) }))).toEqual(expected.filter((e) => e.instant !== null));
    // 01:30 CET is 00:30Z and 03:00 CEST is 01:00Z: the hour the clocks skip holds no reading.
    expect(berlinInstant(2024, 3, 31, 3, 0)! - berlinInstant(2024, 3, 31, 1, 30)!).toBe(30 * 60_000);
  });
});

describe('3. drift: added, removed, renamed and retyped columns under each policy', () => {
  // Three copies of the example weather contract, each taking its own file names into its own table, one per
  // policy: simpler than editing one contract between loads (an edit of its table would be a table_mismatch).
  const POLICIES = { quarantine: 'wq', ignore_extra: 'wi', add_columns: 'wa' } as const;
  const RETYPED_LINE = 6;

  /** The example's shape with Temperatur renamed Temp, Wetter gone, Wind new, and one humidity "n/a". */
  function driftFile(station: string): string {
    const rows = Array.from({ length: 10 }, (_, i) => `${station};01.04.2024 ${pad(10 + i)}:00;${10 + i},5;${i + 2 === RETYPED_LINE ? 'n/a' : 60 + i};${3 + i},5`);
    return `Station;Zeit;Temp;Luftfeuchte;Wind\n${rows.join('\n')}\n`;
  }

  beforeAll(() => {
    const weather = readFileSync(join(EXAMPLES, 'weather.yaml'), 'utf8');
    for (const [policy, prefix] of Object.entries(POLICIES)) {
      const yaml = weather.replace('glob: "weather_*.csv"', `glob: "${prefix}_*.csv"`).replace('drift: quarantine', `drift: ${policy}`);
      writeFileSync(join(stack.contractsDir, `weather_${prefix}.yaml`), yaml);
    }
  });

  it('contract diff --json lists exactly the four differences', async () => {
    const file = join(work, 'wq_1.csv');
    writeFileSync(file, driftFile('DQ-1'));
    const r = await cli('contract', 'diff', file, '--contracts-dir', stack.contractsDir, '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { contract: string; diff: unknown[] };
    expect(out.contract).toBe('weather_wq');
    expect(out.diff).toHaveLength(4);
    expect(out.diff).toEqual(
      expect.arrayContaining([
        { change: 'added', source: 'Wind', inferredType: 'float' },
        { change: 'removed', source: 'Wetter', name: 'conditions' },
        { change: 'renamed', from: 'Temperatur', to: 'Temp', name: 'temperature_c' },
        { change: 'type_changed', source: 'Luftfeuchte', name: 'humidity_pct', expected: 'int', found: 'text', sample: 'n/a' },
      ]),
    );
  });

  /** `sluice check` of the file first: what it says the load must do, with the four differences. */
  async function checked(name: string, station: string, expected: Partial<CheckReport>): Promise<void> {
    const file = join(work, name);
    writeFileSync(file, driftFile(station));
    const r = await cli('check', file, '--json');
    expect(r.code).toBe(expected.verdict === 'quarantine' ? 1 : 0);
    const report = JSON.parse(r.stdout.trim()) as CheckReport;
    expect(report).toMatchObject(expected);
    expect(report.drift).toHaveLength(4);
  }

  it('quarantine: nothing loads, and the ledger error holds the four differences', async () => {
    await checked('wq_1.csv', 'DQ-1', { contract: 'weather_wq', verdict: 'quarantine' });
    const row = await dropAndWait('wq_1.csv', driftFile('DQ-1'));
    expect(row).toMatchObject({ status: 'quarantined', contract_name: 'weather_wq', rows_loaded: '0', error: { rule: 'schema_drift' } });
    for (const line of ['+ Wind (float): new column', '- Wetter: missing', '~ Temperatur → Temp: renamed', '! Luftfeuchte: expected int, found text ("n/a")']) expect(row.error!.message).toContain(line);
    const [{ t }] = await stack.query<{ t: string | null }>(`SELECT to_regclass('datasets.weather_wq')::text AS t`);
    if (t) expect(await stack.count('datasets.weather_wq')).toBe(0);
  });

  it('ignore_extra: every row loads, with the contract columns only; the retyped value is null', async () => {
    await checked('wi_1.csv', 'DI-1', { contract: 'weather_wi', verdict: 'load', rows_total: 10, would_load: 10, rejected: {} });
    const row = await dropAndWait('wi_1.csv', driftFile('DI-1'));
    // docs/contracts.md: extra columns dropped, missing optional ones null, a retyped optional column's values
    // that no longer fit null.
    expect(row).toMatchObject({ status: 'processed', contract_name: 'weather_wi', rows_loaded: '10', rows_rejected: '0' });
    expect(await rowErrors(row.id)).toEqual([]);
    expect((await tableColumns('weather_wi')).map((c) => c.column_name)).toEqual(['station', 'observed_at', 'temperature_c', 'humidity_pct', 'conditions', 'file_id', 'line']);
    const rows = await stack.query<{ line: number; temperature_c: number | null; humidity_pct: number | null; conditions: string | null }>(
      'SELECT line, temperature_c, humidity_pct, conditions FROM datasets.weather_wi ORDER BY line',
    );
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
    expect(rows.every((r) => r.temperature_c === null && r.conditions === null)).toBe(true);
    expect(rows.map((r) => r.humidity_pct)).toEqual(rows.map((r) => (r.line === RETYPED_LINE ? null : 60 + r.line - 2)));
  });

  it('add_columns: every row loads; the table gained the new columns and the retyped value is kept as text', async () => {
    await checked('wa_1.csv', 'DA-1', { contract: 'weather_wa', verdict: 'load', rows_total: 10, would_load: 10, rejected: {} });
    const row = await dropAndWait('wa_1.csv', driftFile('DA-1'));
    expect(row).toMatchObject({ status: 'processed', contract_name: 'weather_wa', rows_loaded: '10', rows_rejected: '0' });
    const columns = await tableColumns('weather_wa');
    expect(columns.map((c) => c.column_name)).toEqual(
      expect.arrayContaining(['station', 'observed_at', 'temperature_c', 'humidity_pct', 'conditions', 'file_id', 'line', 'temp', 'wind', 'humidity_pct_raw']),
    );
    expect(columns.filter((c) => ['temp', 'wind', 'humidity_pct_raw'].includes(c.column_name)).map((c) => c.is_nullable)).toEqual(['YES', 'YES', 'YES']);
    const rows = await stack.query<{ line: number; temp: string; wind: string; humidity_pct: number | null; humidity_pct_raw: string | null }>(
      'SELECT line, temp, wind, humidity_pct, humidity_pct_raw FROM datasets.weather_wa ORDER BY line',
    );
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => /^\d+,5$/.test(r.temp) && /^\d+,5$/.test(r.wind))).toBe(true);
    expect(rows.map((r) => [r.humidity_pct, r.humidity_pct_raw])).toEqual(rows.map((r) => (r.line === RETYPED_LINE ? [null, 'n/a'] : [60 + r.line - 2, null])));
  });
});

describe('4. editing a contract while the stack runs', () => {
  const path = () => join(stack.contractsDir, 'gauges.yaml');
  const v1 = ['inputs:', '  glob: "gauge_*.csv"', 'format:', '  type: csv', '  delimiter: ";"', 'columns:', '  - { source: id, name: gauge, type: text, required: true }', '  - { source: level, name: level, type: float }', 'table:', '  key: [gauge]', ''].join('\n');
  const v2 = v1.replace('type: float }', 'type: float, min: 0 }');
  const broken = v1.replace('type: float }', 'type: floaty }');
  const gauge = (n: number) => `id;level\ng-${n};${n}.5\n`;

  it('an edit takes effect on the next file; a broken edit keeps the previous version and says why', async () => {
    writeFileSync(path(), v1);
    expect(await dropAndWait('gauge_1.csv', gauge(1))).toMatchObject({ status: 'processed', contract_name: 'gauges', contract_hash: sha256(v1) });
    writeFileSync(path(), v2);
    expect(await dropAndWait('gauge_2.csv', gauge(2))).toMatchObject({ status: 'processed', contract_name: 'gauges', contract_hash: sha256(v2) });

    writeFileSync(path(), broken);
    const warning = await waitFor('the processor logs the refused edit', async () => processorLog().find((l) => l.level === 40 && l.msg.includes('gauges.yaml') && l.msg.includes('columns[1].type')) ?? null, 20000);
    expect(warning.msg).toMatch(/floaty/);
    for (const service of ['query-api', 'ingest-api'] as const) {
      const health = await waitFor(`${service} contracts degraded`, async () => {
        const h = await ready(service);
        return h.body.details['contracts']?.degraded ? h : null;
      }, 20000);
      expect(health.code).toBe(200);
      expect(health.body.details['contracts']).toMatchObject({ status: 'up', degraded: true, message: expect.stringContaining('gauges.yaml') });
    }
    const status = await cli('status');
    expect(status.code).toBe(0);
    // The problem names the file (its path), line and field; long lines are wrapped to the terminal.
    expect(status.stdout.replace(/\s+/g, ' ')).toMatch(/gauges\.yaml:\d+ columns\[1\]\.type: .*"floaty"/);

    // Meanwhile a file loads with the version last valid.
    expect(await dropAndWait('gauge_3.csv', gauge(3))).toMatchObject({ status: 'processed', contract_name: 'gauges', contract_hash: sha256(v2) });
    expect(await stack.count('datasets.gauges')).toBe(3);

    // Fixed again, the readiness check is no longer degraded.
    writeFileSync(path(), v2);
    await waitFor('contracts no longer degraded', async () => !(await ready('query-api')).body.details['contracts']?.degraded, 20000);
  });
});

describe('5. hostile contract files', () => {
  const valid = (tableLines: string[], columnExtra = '') =>
    ['inputs:', '  glob: "hostile_*.csv"', 'format:', '  type: csv', 'columns:', `  - { source: id, name: id, type: text, required: true${columnExtra} }`, 'table:', ...tableLines, '  key: [id]', ''].join('\n');
  const HOSTILE: Record<string, string> = {
    'sql_name.yaml': valid(['  name: "x; drop table ingest_files"']),
    'ledger_target.yaml': valid(['  name: ingest_files']),
    'redos.yaml': valid([], ', pattern: "(a+)+$"'),
    'huge.yaml': valid([]) + `# ${'x'.repeat(10 * 1024 * 1024)}\n`,
    'bomb.yaml': [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      'inputs: *i',
      '',
    ].join('\n'),
  };

  it('each is refused with a reason, no table is made, and the services keep loading', async () => {
    const tablesBefore = await allTables();
    for (const [name, text] of Object.entries(HOSTILE)) writeFileSync(join(stack.contractsDir, name), text);

    const problems = await waitFor('every hostile file refused', async () => {
      const r = await cli('status', '--json');
      const report = JSON.parse(r.stdout) as { datasets: { problems: { file: string; message: string }[]; datasets: { name: string }[] } };
      // A problem names the file by its path in the contracts folder.
      const files = new Set(report.datasets.problems.map((p) => basename(p.file)));
      return Object.keys(HOSTILE).every((f) => files.has(f)) ? report.datasets : null;
    }, 30000);
    const reason = (file: string) => problems.problems.filter((p) => basename(p.file) === file).map((p) => p.message).join(' | ');
    expect(reason('sql_name.yaml')).toMatch(/table\.name "x; drop table ingest_files" is not a valid name/);
    expect(reason('ledger_target.yaml')).toMatch(/table\.name "ingest_files" is one of Sluice's own tables/);
    expect(reason('redos.yaml')).toMatch(/columns\[0\]\.pattern "\(a\+\)\+\$" is not safe: it has nested repetition/);
    expect(reason('huge.yaml')).toMatch(/larger than the 256 KiB a contract may be/);
    expect(reason('bomb.yaml')).toMatch(/aliases \(\*name\) expand too far/);
    expect(problems.datasets.map((d) => d.name)).not.toEqual(expect.arrayContaining(['sql_name', 'ledger_target', 'redos', 'huge', 'bomb']));

    // The processor says so in its log too, each file by name.
    await waitFor('the processor logs each refusal', async () => {
      const warned = processorLog().filter((l) => l.level === 40 && l.msg.startsWith('contract refused'));
      return Object.keys(HOSTILE).every((f) => warned.some((l) => l.msg.includes(f)));
    }, 20000);
    // query-api reads the folder on its own clock (every CONTRACTS_REFRESH_MS), so it may see them a little later.
    const health = await waitFor('query-api contracts degraded', async () => {
      const h = await ready('query-api');
      return h.body.details['contracts']?.degraded ? h : null;
    }, 20000);
    expect(health.code).toBe(200);
    expect(health.body.details['contracts']).toMatchObject({ degraded: true });

    // No table was made for any of them (compared before a sensor file, whose load may add a time partition).
    expect(await allTables()).toEqual(tablesBefore);

    // A sensor file dropped after them loads as ever.
    const sensors = readdirSync(join(FIXTURES, 'sensors')).filter((f) => f.endsWith('.csv')).sort()[0];
    const row = await dropAndWait(`after-hostile-${sensors}`, readFileSync(join(FIXTURES, 'sensors', sensors)), 30000);
    expect(row).toMatchObject({ status: 'processed', kind: 'sensor_wide_csv' });
    expect((await allTables()).filter((t) => t.startsWith('datasets.'))).toEqual(tablesBefore.filter((t) => t.startsWith('datasets.')));
    expect(await stack.count('ingest_files')).toBeGreaterThan(0);
    for (const service of ['watcher', 'processor', 'ingest-api', 'query-api'] as const) expect((await ready(service)).code).toBe(200);
  });
});

describe('6. sluice check on a folder writes nothing', () => {
  // apps/e2e/src/check.e2e-spec.ts asserts this against a bare database; here the services run beside it.
  async function snapshot(): Promise<string> {
    await stack.query('SELECT pg_stat_force_next_flush()');
    const c = await stack.pool.connect();
    try {
      await c.query('SELECT pg_stat_force_next_flush()');
      await c.query('SELECT pg_stat_clear_snapshot()');
      const stats = (await c.query('SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relid')).rows;
      const ledger = (await c.query('SELECT * FROM ingest_files ORDER BY id')).rows;
      const files = readdirSync(stack.dropzone, { recursive: true })
        .map(String)
        .sort()
        .map((f) => {
          const s = statSync(join(stack.dropzone, f));
          return [f, s.size, s.mtimeMs];
        });
      return JSON.stringify({ stats, ledger, files });
    } finally {
      c.release();
    }
  }

  it('leaves every table counter, the ledger and the drop folder as they were', async () => {
    const folder = join(work, 'check-folder');
    mkdirSync(folder);
    for (const f of ['weather_2024-03-31.csv', 'orders-000123.ndjson', 'orders-000124.ndjson', 'meter-export.json']) copyFileSync(join(EXAMPLES, f), join(folder, f));
    writeFileSync(join(folder, 'weather_2024-04-02.csv'), example('weather_2024-03-31.csv').toString().replace(/DWD-10385/g, 'DWD-NEW'));

    // The services' own work settles first: two snapshots 11 s apart agree (an idle backend reports its table
    // counters up to 10 s late, and pg_stat_force_next_flush only flushes this session's).
    let before = await snapshot();
    await waitFor('quiet database', async () => {
      await new Promise((r) => setTimeout(r, 11000));
      const now = await snapshot();
      const same = now === before;
      before = now;
      return same;
    }, 90000);

    const r = await cli('check', folder, '--json');
    const reports = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as CheckReport);
    expect(reports).toHaveLength(5);
    expect(reports.find((x) => x.file.endsWith('weather_2024-04-02.csv'))).toMatchObject({ verdict: 'load', would_load: 29 });
    expect(reports.find((x) => x.file.endsWith('weather_2024-03-31.csv'))).toMatchObject({ verdict: 'duplicate' });
    expect(await snapshot()).toBe(before);
  });
});
