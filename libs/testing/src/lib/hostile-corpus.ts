// The hostile corpus run: each case dropped, uploaded or sent, then its outcome checked (ledger row, data, answer, logs).
import { parse } from 'csv-parse/sync';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { wideCsv } from './sensor-data';
import type { Stack } from './stack';
import { waitFor } from './wait-for';
import { hostileBytes, HOSTILE_LIMITS, sizeOf, type CorpusScale, type HostileCase, type HostileExpectation } from './hostile-cases';
import { sendHostile } from './hostile-requests';

export * from './hostile-cases';
export * from './hostile-requests';

/** Where a drop case lands under incoming/ (a sub-folder or an unusual name for some). */
function dropName(c: HostileCase): string {
  switch (c.generate ?? '') {
    case 'unicode-name':
      return 'файлы données/測定 ✓.csv';
    case 'newline-name':
      return 'line\nbreak.csv';
    case 'escape-name':
      return 'evil\u001b[2J\u001b]0;owned\u0007.csv';
    case 'long-name':
      return `${'l'.repeat(240)}.csv`;
    case 'whitespace-led-json':
    case 'space-led-json':
    case 'whitespace-beyond-detection':
      return `${c.id}.json`;
    default:
      return `${c.id}${c.file?.replace(/^.*?(\.[a-z.]+)?$/, '$1') ?? '.csv'}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drops one case into incoming/ the way its writer would; returns the name the ledger will record. */
export async function dropHostile(stack: Stack, c: HostileCase, scale: CorpusScale): Promise<string> {
  const incoming = join(stack.dropzone, 'incoming');
  const name = dropName(c);
  if (c.generate === 'symlink') {
    symlinkSync('/etc/passwd', join(incoming, name));
    return name;
  }
  if (c.generate === 'fifo') {
    execFileSync('mkfifo', [join(incoming, name)]);
    return name;
  }
  const bytes = hostileBytes(c, scale);
  if (c.generate === 'slow-writer') {
    // Written in place through one descriptor: the first piece, then (once the watcher has claimed the file
    // as stable) the rest. A file that grows after its claim must not end processed with rows missing.
    const path = join(incoming, name);
    const fd = openSync(path, 'w');
    const pieces = sizeOf(c, scale);
    const step = Math.ceil(bytes.length / pieces);
    try {
      writeSync(fd, bytes.subarray(0, step));
      await waitFor('the growing file claimed', async () => !existsSync(path), 60000, 20);
      for (let i = 1; i < pieces; i++) writeSync(fd, bytes.subarray(i * step, (i + 1) * step));
    } finally {
      closeSync(fd);
    }
    return name;
  }
  const dir = join(incoming, name, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${c.id}.part`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, join(incoming, name));
  return name;
}

/** Lines at level error (50) or above that a service wrote to its log after `from` bytes. */
function errorLogLines(stack: Stack, service: string, from: number): string[] {
  const path = join(stack.logDir, `${service}-0.log`);
  if (!existsSync(path)) return [];
  return readFileSync(path).subarray(from).toString('utf8').split('\n').filter((l) => /"level":\s*(5\d|6\d)\b/.test(l));
}

const logSize = (stack: Stack, service: string) => {
  const path = join(stack.logDir, `${service}-0.log`);
  return existsSync(path) ? statSync(path).size : 0;
};

/** In-flight temp files (`.<id>.<rand>.tmp`) the ingest-api left in processing/. */
export function leftoverTempFiles(stack: Stack): string[] {
  return readdirSync(join(stack.dropzone, 'processing')).filter((n) => n.endsWith('.tmp'));
}

/** Descriptors a service process holds on files under the drop folder (a leak once every file is terminal). */
export function openDropFiles(stack: Stack): string[] {
  const out: string[] = [];
  for (const p of stack.processes()) {
    if (!p.alive || !p.pid) continue;
    const dir = `/proc/${p.pid}/fd`;
    for (const fd of readdirSync(dir)) {
      let target = '';
      try {
        target = readlinkSync(join(dir, fd));
      } catch {
        continue; // closed meanwhile
      }
      if (target.startsWith(stack.dropzone)) out.push(`${p.name}#${p.index} fd ${fd} → ${target}`);
    }
  }
  return out;
}

interface LedgerOutcome {
  id: string;
  original_name: string;
  status: string;
  rows_rejected: string;
  rows_loaded: string;
  error: { rule?: string } | null;
}

function ledgerProblems(e: HostileExpectation, row: LedgerOutcome | undefined): string[] {
  if (!e.status) return [];
  if (e.status === 'skipped') return row ? [`registered as ${row.status}, expected to be skipped`] : [];
  if (!row) return ['no terminal ledger row'];
  const p: string[] = [];
  if (row.status !== e.status) p.push(`status ${row.status}, expected ${e.status} (${JSON.stringify(row.error)})`);
  const rules = e.rule === undefined ? [] : [e.rule].flat();
  if (rules.length && !rules.includes(row.error?.rule ?? '')) p.push(`rule ${row.error?.rule}, expected ${rules.join(' or ')}`);
  if (e.rowsRejected !== undefined && Number(row.rows_rejected) !== e.rowsRejected) p.push(`${row.rows_rejected} rows rejected, expected ${e.rowsRejected}`);
  if (e.rowsLoaded !== undefined && Number(row.rows_loaded) !== e.rowsLoaded) p.push(`${row.rows_loaded} rows loaded, expected ${e.rowsLoaded}`);
  return p;
}

const TERMINAL = ['processed', 'duplicate', 'quarantined', 'failed'];
const NON_FINITE = `('NaN', 'Infinity', '-Infinity')`;

/** The data a case's expectation names: readings of a device, finite aggregates and measurements. */
async function dataProblems(stack: Stack, e: HostileExpectation): Promise<string[]> {
  const p: string[] = [];
  if (e.readings) {
    const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE starts_with(s.name, $1)`, [`${e.readings.device}/`]);
    if (Number(r.n) !== e.readings.count) p.push(`${r.n} readings of ${e.readings.device}, expected ${e.readings.count}`);
  }
  if (e.finiteAggregates) {
    const [r] = await stack.query<{ n: string; bad: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE a.mean::text IN ${NON_FINITE} OR a.std_dev::text IN ${NON_FINITE}) AS bad FROM aggregated_metrics a JOIN sensors s ON s.id = a.sensor_id WHERE s.name = $1`,
      [e.finiteAggregates],
    );
    if (Number(r.n) === 0 || Number(r.bad) > 0) p.push(`${r.bad} of ${r.n} aggregates of ${e.finiteAggregates} are not finite (or none exist)`);
  }
  if (e.finiteMeasurement) {
    const [m] = await stack.query<{ ok: boolean }>(`SELECT mean::text NOT IN ${NON_FINITE} AND std_dev::text NOT IN ${NON_FINITE} AS ok FROM measurements WHERE timestamp_utc = $1`, [e.finiteMeasurement]);
    if (!m?.ok) p.push(`measurement ${e.finiteMeasurement} ${m ? 'has a non-finite mean or std dev' : 'is missing'}`);
  }
  return p;
}
const STACK_TRACE = /\bat [^\n]+:\d+:\d+/;

/**
 * Runs every case against a running stack (drop cases all at once, then the HTTP cases one by one) and returns,
 * per case id, how its outcome differs from its expectation (empty when it holds).
 */
export async function runHostileCorpus(stack: Stack, cases: HostileCase[], scale: CorpusScale, limits = HOSTILE_LIMITS): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  // The sensor the query cases name, so what they are refused for is their parameters, not the sensor.
  await dropControl(stack, HOSTILE_CONTROL_DEVICE, 100);
  const drops = cases.filter((c) => c.channel === 'drop');
  const names = new Map<string, string>();
  await Promise.all(drops.map(async (c) => names.set(c.id, await dropHostile(stack, c, scale))));
  const registered = drops.filter((c) => c.expect.status && c.expect.status !== 'skipped').map((c) => names.get(c.id) as string);
  const ledger = (sql: string, params: unknown[]) => stack.query<LedgerOutcome>(`SELECT id, original_name, status, rows_rejected, rows_loaded, error FROM ingest_files WHERE ${sql}`, params);
  // Every dropped file settles before the requests, so an upload never races a dropped file of the same content.
  const dropRows = await waitFor('every dropped hostile file terminal', async () => {
    const r = (await ledger(`source = 'dropzone' AND original_name = ANY($1)`, [registered])).filter((x) => TERMINAL.includes(x.status));
    return r.length >= registered.length ? r : null;
  }, 300000, 250).catch(() => ledger(`source = 'dropzone'`, []));
  for (const c of drops) {
    const row = dropRows.find((r) => r.original_name === names.get(c.id)) ?? (c.expect.status === 'skipped' ? (await ledger(`original_name = $1`, [names.get(c.id)]))[0] : undefined);
    result.set(c.id, [...ledgerProblems(c.expect, row), ...(await dataProblems(stack, c.expect))]);
  }

  const accepted = new Map<string, string>();
  for (const c of cases.filter((x) => x.channel !== 'drop')) {
    const before = leftoverTempFiles(stack).length;
    const service = c.channel === 'query' ? 'query-api' : 'ingest-api';
    const logFrom = logSize(stack, service);
    const out = await sendHostile(stack, c, scale, limits);
    const p: string[] = [];
    if (c.expect.noErrorLog) {
      await sleep(1000); // the service logs the abort as it notices it
      const lines = errorLogLines(stack, service, logFrom);
      if (lines.length) p.push(`logged at level error: ${lines[0].slice(0, 200)}`);
    }
    if (c.expect.http !== undefined && out.status !== c.expect.http) p.push(`HTTP ${out.status}, expected ${c.expect.http}: ${out.body.slice(0, 200)}`);
    if (out.status >= 400) {
      const code = errorCode(out.body);
      if (!code) p.push(`error body is not {"error":{"code",…}}: ${out.body.slice(0, 120)}`);
      if (c.expect.code && code !== c.expect.code) p.push(`error code ${code}, expected ${c.expect.code}`);
      if (c.expect.message && !errorMessage(out.body).includes(c.expect.message)) p.push(`error message "${errorMessage(out.body)}" does not say "${c.expect.message}"`);
    }
    if (STACK_TRACE.test(out.body)) p.push('the answer shows a stack trace');
    if (c.expect.csvCellsSafe) p.push(...formulaCells(out.body));
    if (c.expect.retryAfter && !out.headers?.['retry-after']) p.push('no Retry-After header');
    if (out.status === 202) accepted.set(c.id, (JSON.parse(out.body) as { raw_id: string }).raw_id);
    if (c.expect.noTempFiles) {
      await sleep(1000);
      const left = leftoverTempFiles(stack).length - before;
      if (left > 0) p.push(`${left} temp files left in processing/`);
    }
    // A request that kills a service is a finding of its own; the service comes back for the next case.
    const live = await fetch(`${stack.url(service)}/health/live`).then((r) => r.ok, () => false);
    if (!live) {
      const dead = await waitFor(`${service} to exit`, async () => stack.processes().find((x) => x.name === service && !x.alive), 15000, 50).catch(() => undefined);
      p.push(`${service} ${dead ? `crashed (${dead.exit})` : 'stopped answering'}`);
      if (dead) await stack.restart(service, dead.index);
    }
    result.set(c.id, p);
  }
  const ids = [...accepted.values()];
  const apiRows = await waitFor('every accepted hostile upload terminal', async () => {
    const r = (await ledger(`id = ANY($1)`, [ids])).filter((x) => TERMINAL.includes(x.status));
    return r.length >= ids.length ? r : null;
  }, 300000, 250).catch(() => ledger(`id = ANY($1)`, [ids]));
  for (const [id, rawId] of accepted) {
    const c = cases.find((x) => x.id === id) as HostileCase;
    result.set(id, [...(result.get(id) ?? []), ...ledgerProblems(c.expect, apiRows.find((r) => r.id === rawId)), ...(await dataProblems(stack, c.expect))]);
  }
  return result;
}

/** The device whose sensors (`hostile-control/temp`, …) the manifest's query cases name. */
const HOSTILE_CONTROL_DEVICE = 'hostile-control';
const METRIC_COLUMNS = 7;

/**
 * A well-formed CSV of `lines` lines for `device`, dropped by rename; resolves once it is processed with every
 * reading loaded (throws otherwise): the control that shows the pipeline still loads exactly.
 */
export async function dropControl(stack: Stack, device: string, lines: number): Promise<void> {
  const tmp = join(stack.dropzone, 'incoming', `.${device}.part`);
  writeFileSync(tmp, wideCsv({ lines, devices: [device], startEpoch: 1_620_000_000 }));
  renameSync(tmp, join(stack.dropzone, 'incoming', `${device}.csv`));
  await waitFor(`control file ${device} processed`, async () => {
    const [r] = await stack.query<{ status: string }>(`SELECT status FROM ingest_files WHERE source = 'dropzone' AND original_name = $1`, [`${device}.csv`]);
    return r?.status === 'processed';
  }, 120000, 200);
  const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE starts_with(s.name, $1)`, [`${device}/`]);
  if (Number(r.n) !== lines * METRIC_COLUMNS) throw new Error(`control file ${device}: ${r.n} readings loaded, expected ${lines * METRIC_COLUMNS}`);
}

function errorMessage(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? '';
  } catch {
    return '';
  }
}

function errorCode(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

// --- CSV formula cells ---

const FORMULA_START = /^[=+\-@\t\r\n]/;
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The cells of a CSV answer a spreadsheet would run as formulas (a signed number is a number, not one). */
function formulaCells(csv: string): string[] {
  if (!csv) return ['an empty CSV answer'];
  const cells = parse(csv, { relax_column_count: true }) as string[][];
  const bad = cells.flat().filter((cell) => FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell));
  return bad.length ? [`${bad.length} cells start like a formula, e.g. ${JSON.stringify(bad[0].slice(0, 60))}`] : [];
}
