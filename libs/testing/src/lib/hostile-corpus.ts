import { parse } from 'csv-parse/sync';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FIXTURES, wideCsv } from './sensor-data';
import type { Stack } from './stack';
import { waitFor } from './wait-for';

export const HOSTILE_DIR = join(FIXTURES, 'hostile');

/** MAX_SSE_CLIENTS of the corpus's query-api: small, so filling it is cheap. */
const HOSTILE_SSE_CLIENTS = 8;

/** Limits the corpus runs under (small, so the over-limit cases stay cheap), and the stack environment that sets them. */
export const HOSTILE_LIMITS = { maxUploadBytes: 4 * 1024 * 1024, maxIngestBodyBytes: 1024 * 1024 };
export const HOSTILE_STACK_ENV: Record<string, string> = {
  MAX_UPLOAD_BYTES: String(HOSTILE_LIMITS.maxUploadBytes),
  MAX_INGEST_BODY_BYTES: String(HOSTILE_LIMITS.maxIngestBodyBytes),
  INGEST_RATE_LIMIT: '0',
  MAX_SSE_CLIENTS: String(HOSTILE_SSE_CLIENTS),
};

export interface HostileExpectation {
  /** Ledger status the file (or accepted upload) ends in; `skipped`: never registered (symlinks, FIFOs). */
  status?: string;
  /** `error.rule` of a quarantined file (one of several when more than one reason is right). */
  rule?: string | string[];
  /** Readings in raw_sensor_data for the sensors of this device. */
  readings?: { device: string; count: number };
  /** These sensors' aggregates have finite mean and std dev. */
  finiteAggregates?: string;
  rowsRejected?: number;
  /** Rows (lines, items, readings' lines) the file loaded. */
  rowsLoaded?: number;
  /** HTTP status of the request (0: the client aborts it and expects no answer). */
  http?: number;
  /** `error.code` of the JSON error body. */
  code?: string;
  /** Words `error.message` must contain (the true reason, not just the right status). */
  message?: string;
  /** No in-flight temp file left in processing/ once the request is over. */
  noTempFiles?: boolean;
  /** The measurement at this UTC time has finite mean and std dev. */
  finiteMeasurement?: string;
  /** The service logs nothing at level error (50) or above while the case runs. */
  noErrorLog?: boolean;
  /** A CSV answer in which no cell a spreadsheet would run as a formula is left as it is (numbers stay numbers). */
  csvCellsSafe?: boolean;
  /** The answer carries a Retry-After header. */
  retryAfter?: boolean;
}

export interface HostileCase {
  id: string;
  channel: 'drop' | 'upload' | 'ingest' | 'query';
  file?: string;
  generate?: string;
  size?: { ci: number; full: number };
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  key?: 'ingest' | 'query' | 'none' | 'wrong';
  expect: HostileExpectation;
  /** A defect being fixed elsewhere: the case is expected to fail until the fix removes the mark. */
  knownDefect?: string;
  /** The request is sent, then sent again with these changes (same Idempotency-Key): the outcome is the second answer's. */
  repeat?: { body?: string; path?: string; headers?: Record<string, string> };
}

export type CorpusScale = 'ci' | 'full';

export function loadHostileCorpus(): HostileCase[] {
  return (JSON.parse(readFileSync(join(HOSTILE_DIR, 'manifest.json'), 'utf8')) as { cases: HostileCase[] }).cases;
}

const sizeOf = (c: HostileCase, scale: CorpusScale) => c.size?.[scale] ?? 0;
const reading = (i: number) => JSON.stringify({ kind: 'sensor_reading', sensor: 'h-gen/temp', ts: new Date(Date.UTC(2024, 5, 1) + i * 60000).toISOString(), value: i % 40 });

/** The bytes of a case whose content is generated (large ones at the given scale). */
export function hostileBytes(c: HostileCase, scale: CorpusScale): Buffer {
  if (c.file) return readFileSync(join(HOSTILE_DIR, c.file));
  const n = sizeOf(c, scale);
  switch (c.generate ?? '') {
    case 'ndjson-long-first-line': {
      const data = Array.from({ length: Math.ceil(n / 5) }, (_, i) => (i % 90) + 10.5);
      const first = JSON.stringify({ kind: 'measurement', time_stamp: '2019-07-01T00:00:00+00:00', data });
      return Buffer.from([first, ...Array.from({ length: 30 }, (_, i) => reading(i))].join('\n') + '\n');
    }
    case 'ndjson-line-too-long':
      return Buffer.from([...Array.from({ length: 30 }, (_, i) => reading(1000 + i)), JSON.stringify({ kind: 'sensor_reading', sensor: 'h-gen/temp', ts: '2024-07-01T00:00:00Z', value: 1, pad: 'x'.repeat(n) })].join('\n') + '\n');
    case 'json-item-too-long': {
      // An item of a streamed document longer than MAX_LINE_BYTES: refused without being held whole.
      const item = (id: string, status: string) => ({ vehicle_id: id, report_time: '2022-05-05T22:02:34.546Z', status });
      return Buffer.from(JSON.stringify({ vehicle_status: [item('h-json-long-1', 'driving'), item('h-json-long-2', 'x'.repeat(n))] }));
    }
    case 'wide-header': {
      const metrics = Array.from({ length: n }, (_, i) => `m${i}`);
      const line = (t: number) => [`"${1_700_000_000 + t}"`, '"h-wide"', ...metrics.map((_, i) => `"${i % 10}"`)].join(',');
      return Buffer.from([['"ts"', '"device"', ...metrics.map((m) => `"${m}"`)].join(','), line(0), line(60)].join('\n') + '\n');
    }
    case 'csv-huge-line': {
      const csv = wideCsv({ lines: 30, devices: ['h-hugeline'], startEpoch: 1_650_000_000 });
      return Buffer.from(csv + `"1650009999","h-hugeline","${'9'.repeat(n)}","1","True","0.1","False","0.1","20"\n`);
    }
    case 'csv':
    case 'large-csv':
    case 'slow-writer':
    case 'unicode-name':
    case 'newline-name':
    case 'escape-name':
    case 'long-name':
      return Buffer.from(wideCsv({ lines: c.generate === 'large-csv' ? n : 200, devices: [`h-${c.id}`], startEpoch: 1_640_000_000 }));
    // Detection past leading whitespace: a document after more than a MiB of it loads; past DETECT_MAX_BLANK_BYTES it is refused for that.
    case 'whitespace-led-json':
    case 'space-led-json':
    case 'whitespace-beyond-detection': {
      const item = (i: number) => ({ vehicle_id: `h-wslead-${c.id}-${i}`, report_time: '2022-05-05T22:02:34.546Z', status: 'driving' });
      const blank = c.generate === 'whitespace-led-json' ? Buffer.from(' \n\t\r\n'.repeat(Math.ceil(n / 5))) : Buffer.alloc(n, 0x20);
      return Buffer.concat([blank, Buffer.from(JSON.stringify({ vehicle_status: [item(1), item(2)] }))]);
    }
    default:
      return Buffer.alloc(0);
  }
}

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

export interface HttpOutcome {
  status: number;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

function keyHeader(stack: Stack, c: HostileCase): Record<string, string> {
  switch (c.key ?? (c.channel === 'query' ? 'query' : 'ingest')) {
    case 'ingest':
      return { 'x-api-key': stack.ingestKey };
    case 'query':
      return { 'x-api-key': stack.queryKey };
    case 'wrong':
      return { 'x-api-key': 'not-a-key' };
    case 'none':
      return {};
  }
}

function multipart(parts: Array<{ name: string; filename?: string; body: string }>, close = true): { body: Buffer; type: string } {
  const b = 'hostileBoundary7MA4YWxk';
  const text = parts.map((p) => `--${b}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n\r\n${p.body}\r\n`).join('') + (close ? `--${b}--\r\n` : '');
  return { body: Buffer.from(text), type: `multipart/form-data; boundary=${b}` };
}

/** Sends one HTTP case; generated bodies (limits, aborts, multipart) are built here. */
export async function sendHostile(stack: Stack, c: HostileCase, scale: CorpusScale, limits: { maxUploadBytes: number; maxIngestBodyBytes: number }): Promise<HttpOutcome> {
  if (c.repeat) {
    await sendHostile(stack, { ...c, repeat: undefined }, scale, limits);
    return sendHostile(stack, { ...c, repeat: undefined, body: c.repeat.body ?? c.body, path: c.repeat.path ?? c.path, headers: { ...c.headers, ...c.repeat.headers } }, scale, limits);
  }
  if (c.generate === 'slow-headers') return slowHeaders(stack, c);
  if (c.generate === 'concurrent-large-bodies') return concurrentLargeBodies(stack, c, limits);
  if (c.generate === 'sse-over-max-clients') return sseOverMaxClients(stack, c);
  const service = c.channel === 'query' ? 'query-api' : 'ingest-api';
  const url = new URL(c.path ?? '/', stack.url(service));
  const headers: Record<string, string> = { ...keyHeader(stack, c), ...c.headers };
  let body: Buffer | undefined = c.file || c.generate === 'csv' ? hostileBytes(c, scale) : c.body !== undefined ? Buffer.from(c.body) : undefined;
  let abortAfter: number | undefined;
  const csv = Buffer.from(wideCsv({ lines: 20, devices: [`h-${c.id}`], startEpoch: 1_630_000_000 }));
  switch (c.generate ?? '') {
    case 'multipart-two-files':
    case 'multipart-no-file':
    case 'multipart-truncated': {
      const parts = c.generate === 'multipart-no-file' ? [{ name: 'note', body: 'hello' }] : [{ name: 'file', filename: 'a.csv', body: csv.toString() }, { name: 'file', filename: 'b.csv', body: csv.toString().replace(/h-/g, 'h2-') }];
      const mp = multipart(c.generate === 'multipart-truncated' ? parts.slice(0, 1) : parts, c.generate !== 'multipart-truncated');
      body = c.generate === 'multipart-truncated' ? mp.body.subarray(0, mp.body.length - 40) : mp.body;
      headers['content-type'] = mp.type;
      break;
    }
    case 'declared-over-limit':
      // Only the headers: the answer must come from Content-Length alone, before any byte of the body.
      headers['content-type'] = 'text/csv';
      headers['content-length'] = String(limits.maxUploadBytes + 1);
      body = Buffer.alloc(0);
      break;
    case 'streamed-over-limit':
      headers['content-type'] = 'text/csv';
      // Chunked, so no Content-Length can refuse it up front (declared-over-limit covers that): the limit must
      // be found by counting. One byte over, so the whole body is sent before the refusal and no reset races it.
      headers['transfer-encoding'] = 'chunked';
      body = Buffer.alloc(limits.maxUploadBytes + 1, 0x41);
      break;
    case 'ingest-over-limit':
      body = Buffer.from(JSON.stringify({ time_stamp: '2019-06-01T06:00:00-04:00', data: Array.from({ length: Math.ceil(limits.maxIngestBodyBytes / 4) + 10 }, () => 1.5) }));
      break;
    case 'multipart-many-fields': {
      // More fields before the file part than are read (20): refused saying so, not as "no field named file".
      const mp = multipart([...Array.from({ length: 25 }, (_, i) => ({ name: `note${i}`, body: `value ${i}` })), { name: 'file', filename: 'many-fields.csv', body: csv.toString() }]);
      body = mp.body;
      headers['content-type'] = mp.type;
      break;
    }
    case 'aborted-ingest': {
      const doc = Buffer.from(JSON.stringify({ time_stamp: '2019-08-09T06:00:00Z', data: Array.from({ length: 20000 }, () => 1.5) }));
      headers['content-length'] = String(doc.length);
      body = doc.subarray(0, doc.length >> 1);
      abortAfter = 300;
      break;
    }
    case 'aborted-upload':
      headers['content-type'] = 'text/csv';
      headers['content-length'] = String(csv.length * 100);
      body = csv;
      abortAfter = 300;
      break;
    case 'aborted-multipart': {
      const mp = multipart([{ name: 'file', filename: 'aborted.csv', body: csv.toString().repeat(50) }]);
      headers['content-type'] = mp.type;
      headers['content-length'] = String(mp.body.length);
      body = mp.body.subarray(0, mp.body.length >> 1);
      abortAfter = 300;
      break;
    }
  }
  return new Promise<HttpOutcome>((resolve) => {
    const req = request(url, { agent: false, method: c.method ?? 'GET', headers: { ...headers, ...(body && !headers['content-length'] && !headers['transfer-encoding'] ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // A server may answer (413) and close while the body is still being written: the write fails, yet the
    // answer may still be on its way, so an error only settles the outcome if no response follows.
    req.on('error', () => setTimeout(() => resolve({ status: 0, body: '' }), 500));
    if (c.generate === 'declared-over-limit') {
      req.flushHeaders();
      req.on('response', (res) => res.once('end', () => req.destroy()));
      return;
    }
    if (abortAfter === undefined) {
      req.end(body);
      return;
    }
    if (body?.length) req.write(body);
    // The client gives up half-way: the server sees the connection close before the declared length.
    setTimeout(() => {
      if (c.generate?.startsWith('aborted-')) req.destroy();
      else req.end();
    }, abortAfter);
    if (c.generate?.startsWith('aborted-')) setTimeout(() => resolve({ status: 0, body: '' }), abortAfter + 50);
  });
}

/**
 * Slowloris: the request line and one header, then another header line every 200 ms, never the blank line
 * that ends them. The server must answer (408) and close on its own; the client stops after 60 s.
 */
function slowHeaders(stack: Stack, c: HostileCase): Promise<HttpOutcome> {
  const url = new URL(c.path ?? '/', stack.url(c.channel === 'query' ? 'query-api' : 'ingest-api'));
  return new Promise<HttpOutcome>((resolve) => {
    let received = '';
    let n = 0;
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`${c.method ?? 'GET'} ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n`));
    const trickle = setInterval(() => socket.write(`X-Slow-${++n}: ${n}\r\n`), 200);
    const giveUp = setTimeout(() => socket.destroy(), 60000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(trickle);
      clearTimeout(giveUp);
      const [head, ...rest] = received.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body: rest.join('\r\n\r\n') });
    });
  });
}

/** Six JSON bodies near MAX_INGEST_BODY_BYTES at once: 202 when every one is stored, else the first other answer. */
async function concurrentLargeBodies(stack: Stack, c: HostileCase, limits: { maxIngestBodyBytes: number }): Promise<HttpOutcome> {
  const values = Math.floor((limits.maxIngestBodyBytes * 0.9) / 8);
  const bodies = Array.from({ length: 6 }, (_, i) => JSON.stringify({ time_stamp: `2019-08-${String(10 + i).padStart(2, '0')}T06:00:00Z`, data: Array.from({ length: values }, (_, j) => 10 + (j % 89) / 10) }));
  const answers = await Promise.all(
    bodies.map((body) => fetch(new URL(c.path ?? '/ingest', stack.url('ingest-api')), { method: 'POST', body, headers: { ...keyHeader(stack, c), ...c.headers } }).then(async (r) => ({ status: r.status, body: await r.text() }))),
  );
  return answers.find((a) => a.status !== 202) ?? { status: 202, body: answers[0].body };
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

// --- CSV formula cells and the bound on live event streams ---

const FORMULA_START = /^[=+\-@\t\r\n]/;
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The cells of a CSV answer a spreadsheet would run as formulas (a signed number is a number, not one). */
function formulaCells(csv: string): string[] {
  if (!csv) return ['an empty CSV answer'];
  const cells = parse(csv, { relax_column_count: true }) as string[][];
  const bad = cells.flat().filter((cell) => FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell));
  return bad.length ? [`${bad.length} cells start like a formula, e.g. ${JSON.stringify(bad[0].slice(0, 60))}`] : [];
}

/** Fills the query-api's MAX_SSE_CLIENTS with open /events streams, then answers what one more gets. */
async function sseOverMaxClients(stack: Stack, c: HostileCase): Promise<HttpOutcome> {
  const url = new URL(c.path ?? '/events', stack.url('query-api'));
  const headers = keyHeader(stack, c);
  const streams: AbortController[] = [];
  try {
    for (let i = 0; i < HOSTILE_SSE_CLIENTS; i++) {
      const abort = new AbortController();
      streams.push(abort);
      const res = await fetch(url, { headers, signal: abort.signal });
      if (res.status !== 200) return { status: res.status, body: `stream ${i + 1} of ${HOSTILE_SSE_CLIENTS} was refused: ${await res.text()}` };
    }
    const res = await fetch(url, { headers });
    return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
  } finally {
    for (const s of streams) s.abort();
  }
}
