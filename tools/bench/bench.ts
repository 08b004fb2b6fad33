// The performance targets of SPEC §9, each measured against a baseline in the same run. Past 400 lines: the
// sections share one stack and one summary; the larger ones live in files of their own (*.section.ts).
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { Agent, get as httpGet } from 'node:http';
import { CHROMIUM, generateLongFormat, HOSTILE_STACK_ENV, launchChromium, loadHostileCorpus, runHostileCorpus, type ServiceName, Stack, waitFor, WORKSPACE_ROOT } from '@sluice/testing';
import autocannon from 'autocannon';
import { cpuMs } from './cpu.util';
import { s3Source } from './s3.section';
import { replaySection } from './replay.section';
import { logsSection } from './logs.section';
import { compressedFiles } from './compressed.section';
import { largeJsonDocument } from './json-document.section';
import { partitionsSection } from './partitions.section';
import { contractsSection } from './contracts.section';
import { csvFilesOf, generatedSeedSet, realSeedSet, type SeedSet } from '../data/seed-set';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const seedsArg = arg('seeds');
/** The realtime-pipeline files: the real set with `--seeds DIR`, else generated in their shape (made on first use). */
const seedSet = (): SeedSet => (seedsArg ? realSeedSet(resolve(seedsArg)) : generatedSeedSet());
const skipLarge = process.argv.includes('--skip-large');
/** `--only query` or `--only e2e,small-files`: run just those sections (names in SECTIONS below). */
const only = arg('only')?.split(',').map((s) => s.trim()).filter(Boolean);
const largeBytes = Number(arg('large-mb') ?? 1024) * 1024 * 1024;

const out = (line = '') => process.stdout.write(line + '\n');
const secs = (ms: number) => (ms / 1000).toFixed(2) + ' s';
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** Moves files in with rename(2), as a well-behaved writer does; staging sits on the same file system. */
function stageDir(stack: Stack): string {
  const dir = join(stack.dropzone, '..', `${stack.dropzone.split('/').pop()}-staging`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Processors of the end-to-end section, one load each at a time. */
const PROCESSORS = 2;

/** Sums of the stage counters of the watcher and every processor (sluice_*_stage_seconds_total), as one line. */
async function stageSeconds(stack: Stack): Promise<string> {
  const sums = new Map<string, number>();
  const add = async (url: string, app: string) => {
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    for (const m of text.matchAll(/^sluice_(?:processor|watcher)_stage_seconds_total\{[^}]*\bstage="([a-z_]+)"[^}]*\} (\S+)$/gm)) {
      const key = `${app} ${m[1]}`;
      sums.set(key, (sums.get(key) ?? 0) + Number(m[2]));
    }
  };
  for (let i = 0; i < PROCESSORS; i++) await add(stack.url('processor', i), 'processor');
  await add(stack.url('watcher'), 'watcher');
  return [...sums].map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ');
}

async function endToEnd(): Promise<void> {
  const set = seedSet();
  const dir = set.dir;
  const files = csvFilesOf(set);
  out(`\n## 1. End-to-end load of ${files.length} realtime-pipeline files vs psql \\copy`);
  const stack = await Stack.start({ label: 'bench', services: ['watcher', 'processor', 'query-api'], processors: PROCESSORS, env: { PROCESSOR_CONCURRENCY: '1', LOG_LEVEL: 'warn' } });
  try {
    const staging = stageDir(stack);
    for (const f of files) writeFileSync(join(staging, f), readFileSync(join(dir, f)));
    const t0 = performance.now();
    for (const f of files) renameSync(join(staging, f), join(stack.dropzone, 'incoming', f));
    const statuses = await stack.waitForTerminal(files.length, 600000);
    const e2eMs = performance.now() - t0;

    const rows = await stack.count('raw_sensor_data');
    const sensors = await stack.count('sensors');
    const errors = await stack.count('ingest_errors');
    const { expected } = set;
    out(`files: ${JSON.stringify(statuses)}; raw_sensor_data ${rows} rows (expected ${expected.readings}); ${sensors} sensors (${expected.sensors}); ${errors} rejected lines (${expected.rejected})`);

    const stages = await stageSeconds(stack);

    // Baselines: the same readings, pre-flattened to a file, \copy'd into an identical empty table; and the
    // narrowest table that could hold them (sensor_id, ts, value; its primary key only), the floor of any loader.
    const flat = join(staging, 'flat.tsv');
    const narrowFlat = join(staging, 'narrow.tsv');
    execFileSync('psql', [stack.db.url, '-qc', `\\copy (SELECT sensor_id, ts, value, file_id FROM raw_sensor_data ORDER BY file_id) TO '${flat}'`]);
    execFileSync('psql', [stack.db.url, '-qc', `\\copy (SELECT sensor_id, ts, value FROM raw_sensor_data ORDER BY file_id) TO '${narrowFlat}'`]);
    execFileSync('psql', [stack.db.url, '-qc', 'CREATE TABLE raw_sensor_data_baseline (LIKE raw_sensor_data INCLUDING ALL)']);
    execFileSync('psql', [stack.db.url, '-qc', 'CREATE TABLE narrow_baseline (sensor_id int NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, PRIMARY KEY (sensor_id, ts))']);
    execFileSync('psql', [stack.db.url, '-qc', 'CHECKPOINT']);
    const timedCopy = (table: string, file: string) => {
      const c0 = performance.now();
      execFileSync('psql', [stack.db.url, '-qc', `\\copy ${table} FROM '${file}'`]);
      return performance.now() - c0;
    };
    const copyMs = timedCopy('raw_sensor_data_baseline', flat);
    execFileSync('psql', [stack.db.url, '-qc', 'CHECKPOINT']);
    const narrowMs = timedCopy('narrow_baseline', narrowFlat);
    const ratio = e2eMs / copyMs;
    const narrowRatio = e2eMs / narrowMs;
    const rate = (ms: number) => `${Math.round(rows / (ms / 1000)).toLocaleString('en')} rows/s`;
    out(`end-to-end         ${secs(e2eMs)}  ${rate(e2eMs)}`);
    out(`psql \\copy         ${secs(copyMs)}  ${rate(copyMs)}  (the same table: raw_sensor_data's columns and indexes)`);
    out(`psql \\copy narrow  ${secs(narrowMs)}  ${rate(narrowMs)}  (sensor_id, ts, value; primary key only)`);
    out(`ratio              ${ratio.toFixed(2)}× \\copy (SPEC ≤ 2.00× ${ratio <= 2 ? 'PASS' : 'FAIL'}; goal ≤ 1.00× ${ratio <= 1 ? 'PASS' : 'FAIL'}); ${narrowRatio.toFixed(2)}× the narrow \\copy (goal ≤ 1.50× ${narrowRatio <= 1.5 ? 'PASS' : 'FAIL'})`);
    out(`where the time went, summed over the ${PROCESSORS} processors (${secs(e2eMs * PROCESSORS)} of wall time between them) and the watcher: ${stages}`);
    if (rows !== expected.readings) out('COUNT MISMATCH');
  } finally {
    await stack.stop();
  }
}

/**
 * GETs over node:http on one kept-alive connection: fetch (undici) spends ~2.5 ms of CPU a response here, as
 * much as the service, and on two cores that CPU would be taken from what is being timed.
 */
function keptAliveClient(): { get(url: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer }>; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (url: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      httpGet(url, { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      }).on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

/**
 * Small files timed one at a time. 200 by default: a p99 of 50 files was their slowest, set by one stall of the
 * machine's disk or CPU; of 200 it is the third slowest, as a p99 means. The first files after the start count too.
 */
async function smallFileLatency(): Promise<void> {
  const count = Number(arg('small-files') ?? 200);
  out(`\n## 2. Latency of ${count} small files (1,000 readings each, of the last 14 hours): rename into incoming/ → visible through query-api`);
  const stack = await Stack.start({ label: 'benchlat', services: ['watcher', 'processor', 'query-api'], env: { LOG_LEVEL: 'warn' } });
  const { get, close } = keptAliveClient();
  try {
    const staging = stageDir(stack);
    // Recent readings, as live sources drop them: a device a file, one reading a second, the files' 1,000 s
    // windows following each other through the last 14 hours. (Readings dated past the partitions made ahead are
    // taken for a clock error and parked in the default partition.)
    const base = Math.floor(Date.now() / 1000) - 50 * 1000;
    const start = (i: number) => base + (i % 50) * 1000;
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const lines = ['"ts","device","temp"'];
      for (let j = 0; j < 1000; j++) lines.push(`"${start(i) + j}","bench-${i}","${(20 + (j % 10) / 10).toFixed(1)}"`);
      writeFileSync(join(staging, `small-${i}.csv`), lines.join('\n') + '\n');
      names.push(`small-${i}.csv`);
    }
    const lat: number[] = [];
    const readings = async (sensor: string, query: string) => {
      const res = await get(`${stack.url('query-api')}/sensors/${sensor}/readings?${query}`, { 'x-api-key': stack.queryKey });
      return res.status === 200 ? (JSON.parse(res.body.toString('utf8')) as { readings: unknown[] }).readings.length : 0;
    };
    for (let i = 0; i < names.length; i++) {
      const sensor = encodeURIComponent(`bench-${i}/temp`);
      // A file's readings commit in one transaction, so its last reading is visible when all are: the poll asks
      // for that one only (a page of 1,000 would cost the query-api and PostgreSQL ~4 ms a poll, taken from the
      // pipeline being timed on the same cores), and the whole file is checked once the clock has stopped.
      const last = new Date((start(i) + 999) * 1000).toISOString();
      const t0 = performance.now();
      renameSync(join(staging, names[i]), join(stack.dropzone, 'incoming', names[i]));
      await waitFor(`small file ${i} visible`, async () => (await readings(sensor, `from=${last}&limit=1`)) === 1, 30000, 5);
      lat.push(performance.now() - t0);
      const all = await readings(sensor, 'limit=1000');
      if (all !== 1000) throw new Error(`small file ${i}: ${all} of its 1,000 readings visible after its last one was`);
    }
    const p50 = pct(lat, 50);
    const p99 = pct(lat, 99);
    out(`p50 ${p50.toFixed(0)} ms (target ≤ 150) ${p50 <= 150 ? 'PASS' : 'FAIL'}; p99 ${p99.toFixed(0)} ms (target ≤ 500) ${p99 <= 500 ? 'PASS' : 'FAIL'}; min ${Math.min(...lat).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`);
    // The first files after the services started are the likeliest to be slow (cold code), the others when the machine stalls.
    const over = lat.filter((x) => x > 100).length;
    out(`goal p99 ≤ 100 ms ${p99 <= 100 ? 'PASS' : 'FAIL'}; ${over} of ${count} files over 100 ms; the first three files ${lat.slice(0, 3).map((x) => x.toFixed(0)).join(', ')} ms, the slowest of the rest ${Math.max(...lat.slice(3)).toFixed(0)} ms`);
  } finally {
    close();
    await stack.stop();
  }
}

/**
 * How soon an open dashboard hears of a ledger change: the moment a file's outcome is visible in the
 * database (polled hard) to the moment the page's EventSource handler receives it, over 20 small files.
 */
async function dashboardLatency(): Promise<void> {
  out('\n## 2b. Dashboard: ledger commit seen in the database → event in the page (20 small files)');
  if (!existsSync(CHROMIUM)) {
    out(`(skipped: ${CHROMIUM} is missing)`);
    return;
  }
  const stack = await Stack.start({ label: 'benchdash', services: ['watcher', 'processor', 'query-api'], env: { LOG_LEVEL: 'warn' } });
  const browser = await launchChromium();
  try {
    const { page } = browser;
    await page.goto(`${stack.url('query-api')}/?key=${encodeURIComponent(stack.queryKey)}`);
    await page.locator('#live.on').waitFor({ timeout: 30000 });
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const name = `dash-${i}.csv`;
      stack.drop(name, (p) => writeFileSync(p, `"ts","device","temp"\n"${1594546229.5 + i}","bench:dash","${20 + i / 10}"\n`));
      let seenAt = 0;
      const deadline = Date.now() + 30000;
      while (!seenAt && Date.now() < deadline) {
        const rows = await stack.query<{ status: string }>(`SELECT status FROM ingest_files WHERE original_name = $1`, [name]);
        if (rows[0]?.status === 'processed') seenAt = Date.now();
      }
      if (!seenAt) throw new Error(`${name} was not processed within 30 s`);
      const receivedAt = await page.waitForFunction(
        (n) => (globalThis as unknown as { sluiceDashboard: { activity: { originalName?: string; status: string; receivedAt: number }[] } }).sluiceDashboard.activity.find((e) => e.originalName === n && e.status === 'processed')?.receivedAt,
        name,
        { timeout: 10000, polling: 5 },
      );
      lat.push(((await receivedAt.jsonValue()) as number) - seenAt);
    }
    const p95 = pct(lat, 95);
    out(`p50 ${pct(lat, 50)} ms; p95 ${p95} ms (target < 100) ${p95 < 100 ? 'PASS' : 'FAIL'}; max ${Math.max(...lat)} ms`);
  } finally {
    await browser.close();
    await stack.stop();
  }
}

/** Peak resident set (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function largeFile(): Promise<void> {
  out(`\n## 3. Processor peak RSS while loading a generated ${(largeBytes / 1024 ** 3).toFixed(2)} GB CSV`);
  const stack = await Stack.start({ label: 'benchbig', services: ['watcher', 'processor'], env: { LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' } });
  try {
    const staging = stageDir(stack);
    const big = join(staging, 'big.csv');
    const w = createWriteStream(big);
    const devices = ['00:0f:00:70:91:0a', '1c:bf:ce:15:ec:4d', 'b8:27:eb:bf:9d:51'];
    let t = 1.6e9;
    let written = 0;
    let lines = 0;
    w.write('"ts","device","co","humidity","light","lpg","motion","smoke","temp"\n');
    while (written < largeBytes) {
      const chunk: string[] = [];
      for (let i = 0; i < 5000; i++) {
        t += 0.25;
        const d = devices[lines % 3];
        chunk.push(`"${t}","${d}","0.00${lines % 97}","${50 + (lines % 40)}.0","False","0.00${lines % 89}","False","0.0${lines % 83}","${20 + (lines % 10)}.${lines % 7}"`);
        lines++;
      }
      const s = chunk.join('\n') + '\n';
      written += Buffer.byteLength(s);
      if (!w.write(s)) await once(w, 'drain');
    }
    w.end();
    await once(w, 'finish');
    const size = statSync(big).size;
    const pid = stack.pid('processor')!;
    const before = peakRssMb(pid);
    const t0 = performance.now();
    renameSync(big, join(stack.dropzone, 'incoming', 'big.csv'));
    const statuses = await stack.waitForTerminal(1, 3600000);
    const ms = performance.now() - t0;
    const peak = peakRssMb(pid);
    const rows = await stack.count('raw_sensor_data');
    out(`${(size / 1024 ** 2).toFixed(0)} MB, ${lines.toLocaleString('en')} lines → ${rows.toLocaleString('en')} readings in ${secs(ms)} (${JSON.stringify(statuses)})`);
    out(`processor peak RSS ${peak.toFixed(0)} MB (idle ${before.toFixed(0)} MB; target ≤ 300) ${peak <= 300 ? 'PASS' : 'FAIL'}`);
  } finally {
    await stack.stop();
  }
}

/** Range queries timed (from the request to the last byte of the answer), each a random sensor and day. */
const QUERIES = 500;
/** Queries between the first timed ones (a cold service) and the measured ones (its steady state), checked in full. */
const WARM_UP_QUERIES = 2500;

/** One sensor's one UTC day [from, to), as the query section asks it. */
interface Range {
  sensor: string;
  from: string;
  to: string;
}

/** Occurrences of `needle` in `bytes`. */
function countOf(bytes: Buffer, needle: string): number {
  let n = 0;
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** One-sensor one-day range queries through query-api over a 10M-row raw_sensor_data (SPEC §6.3, PK (sensor_id, ts)). */
async function queryLatency(): Promise<void> {
  const sensors = Number(arg('query-sensors') ?? 50);
  const total = Number(arg('query-rows') ?? 10_000_000);
  out(`\n## 4. Query latency: ${QUERIES} one-sensor one-day range queries through query-api over ${total.toLocaleString('en')} readings`);
  const stack = await Stack.start({
    label: 'benchquery',
    services: ['watcher', 'processor', 'query-api'],
    processors: 2,
    env: { LOG_LEVEL: 'warn', PROCESSOR_CONCURRENCY: '1' },
  });
  const data = mkdtempSync(join(stack.dropzone, '..', 'query-data-'));
  const { get, close } = keptAliveClient();
  try {
    // Setup, not measured: the shared generator's long format (one reading per sensor per minute from
    // 2012-12-31 23:07 UTC), loaded through the pipeline like any dropped data, mapping last.
    const t0 = performance.now();
    const files = Math.max(1, Math.ceil(total / 250_000));
    generateLongFormat(data, { sensors, rows: total, files, bad: 0 });
    const parts = readdirSync(join(data, 'timeseries'));
    for (const f of parts) renameSync(join(data, 'timeseries', f), join(stack.dropzone, 'incoming', f));
    await stack.waitForTerminal(parts.length, 3_600_000);
    renameSync(join(data, 'mapping', 'mapping.csv'), join(stack.dropzone, 'incoming', 'mapping.csv'));
    await stack.waitForTerminal(parts.length + 1, 600_000);
    // Readings a load could not give their partition before its COPY (another load held the default partition)
    // are moved there after it: the steady state has every reading in its partition.
    const homeless = async () => Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data_default WHERE ts IS NOT NULL`))[0].n);
    await waitFor('readings in their partitions', async () => (await homeless()) === 0, 300_000, 500);
    // What autovacuum does to an insert-only table soon after a load (statistics, all-visible pages for
    // index-only scans), done at once rather than waited for.
    await stack.query('VACUUM (ANALYZE) raw_sensor_data');
    // Write the load's dirty pages now, so a checkpoint does not land in the middle of the measurement, and
    // let autovacuum and the kernel's writeback finish digesting the load: the criterion is steady state.
    await stack.query('CHECKPOINT');
    execFileSync('sync');
    const autovacuum = async () => Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`))[0].n);
    await waitFor('autovacuum idle', async () => (await autovacuum()) === 0, 300_000, 1000).catch(() => undefined);
    const rows = await stack.count('raw_sensor_data');
    out(`setup: ${rows.toLocaleString('en')} readings from tools/data/gen-sensor-timeseries.mjs (${parts.length} files + mapping) loaded through the pipeline in ${secs(performance.now() - t0)} then VACUUM (ANALYZE), CHECKPOINT, sync and autovacuum idle (not measured)`);

    // Whole UTC days from 2013-01-01: 1,440 readings each, one page.
    const days = Math.floor(total / sensors / 1440) - 1;
    let seed = 42;
    const rand = (n: number) => (seed = (seed * 1664525 + 1013904223) >>> 0) % n;
    const pick = (): Range => {
      const sensor = `sensor_${String(1 + rand(sensors)).padStart(5, '0')}`;
      const from = Date.UTC(2013, 0, 1) + rand(days) * 86400000;
      return { sensor, from: new Date(from).toISOString(), to: new Date(from + 86400000).toISOString() };
    };
    /** One timed query of a range, from the request to the last byte; `parse` checks the whole answer as JSON. */
    const one = async ({ sensor, from, to }: Range, parse: boolean): Promise<number> => {
      const t = performance.now();
      const res = await get(`${stack.url('query-api')}/sensors/${sensor}/readings?from=${from}&to=${to}&limit=10000`, { 'x-api-key': stack.queryKey });
      const bytes = res.body;
      const ms = performance.now() - t;
      // Checked after the clock stops. Timed answers are checked by counting readings in the bytes: parsing
      // 160 KB into 1,440 objects each time would leave garbage whose collection lands in later timings.
      const readings = parse ? (JSON.parse(bytes.toString('utf8')) as { readings?: unknown[] }).readings?.length : countOf(bytes, '{"ts":"');
      if (res.status !== 200 || readings !== 1440) throw new Error(`query returned ${res.status} with ${readings} readings`);
      return ms;
    };
    /** The same range straight to PostgreSQL: the same readings, rendered the same way, by one statement. */
    const alone = async ({ sensor, from, to }: Range): Promise<number> => {
      const t = performance.now();
      const rows = await stack.query(
        `SELECT to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, r.value, r.file_id::text AS file_id
           FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id
          WHERE s.name = $1 AND r.ts >= $2 AND r.ts < $3 ORDER BY r.ts LIMIT 10001`,
        [sensor, from, to],
      );
      const ms = performance.now() - t;
      if (rows.length !== 1440) throw new Error(`PostgreSQL returned ${rows.length} readings`);
      return ms;
    };
    // A freshly started query-api is slower: its JIT and its heap (the old generation grows from ~40 MB
    // to ~130 MB, and full collections go from one every ~30 requests to one every ~700) take a few thousand
    // requests to settle. Those first queries are printed; the criterion is the steady state after them.
    const cold: number[] = [];
    for (let i = 0; i < QUERIES; i++) cold.push(await one(pick(), false));
    for (let i = 0; i < WARM_UP_QUERIES; i++) await one(pick(), true);
    // Each range is asked of both, one right after the other and each first in turn, so whatever else the
    // machine does at that moment falls on both alike: the ratio compares the same work under the same load.
    const lat: number[] = [];
    const sqlLat: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const range = pick();
      if (i % 2 === 0) {
        lat.push(await one(range, false));
        sqlLat.push(await alone(range));
      } else {
        sqlLat.push(await alone(range));
        lat.push(await one(range, false));
      }
    }

    const [plan] = await stack.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT ts, value FROM raw_sensor_data WHERE sensor_id = (SELECT id FROM sensors WHERE name = 'sensor_00007') AND ts >= '2013-01-02' AND ts < '2013-01-03' ORDER BY ts`,
    ).then((r) => r.filter((x) => /Scan.* on raw_sensor_data/.test(x['QUERY PLAN'])));
    const p50 = pct(lat, 50);
    const p95 = pct(lat, 95);
    const ratio = p95 / pct(sqlLat, 95);
    out(`plan: ${plan?.['QUERY PLAN'].trim() ?? '(none)'}`);
    out(`first ${QUERIES} queries after the service started: p50 ${pct(cold, 50).toFixed(1)} ms, p95 ${pct(cold, 95).toFixed(1)} ms; then ${WARM_UP_QUERIES.toLocaleString('en')} more, not timed`);
    out(`database alone (the same ${QUERIES} ranges over pg, interleaved with the service's): p50 ${pct(sqlLat, 50).toFixed(1)} ms, p95 ${pct(sqlLat, 95).toFixed(1)} ms; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
    out(`steady state: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms (target ≤ 20) ${p95 <= 20 ? 'PASS' : 'FAIL'}; p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (1,440 readings a response)`);
    out(`query ratio: p95 ${ratio.toFixed(2)}× PostgreSQL alone (goal ≤ 1.30) ${ratio <= 1.3 ? 'PASS' : 'FAIL'}; p50 ${(p50 / pct(sqlLat, 50)).toFixed(2)}×`);
  } finally {
    close();
    rmSync(data, { recursive: true, force: true });
    await stack.stop();
  }
}

/** CPU ms used so far by every process with this command name (e.g. all PostgreSQL backends). */
function cpuMsOf(comm: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) total += cpuMs(Number(pid));
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/** CPU ms so far of each process that serves a load: the stack's services, PostgreSQL, NATS and this process (the load generator). */
function cpuSnapshot(stack: Stack, services: ServiceName[]): Map<string, number> {
  const snap = new Map<string, number>(services.map((s) => [s, cpuMs(stack.pid(s) ?? 0)]));
  snap.set('postgresql', cpuMsOf('postgres'));
  snap.set('nats-server', cpuMsOf('nats-server'));
  const self = process.cpuUsage();
  snap.set('load generator', (self.user + self.system) / 1000);
  return snap;
}

/**
 * The baseline for the ingest rate: a bare node:http server in its own process that reads each body and
 * answers 202 with a raw_id, storing nothing. What one Node process can answer on this machine with this
 * client, so the ingest-api's rate reads as a share of it, whatever the machine's speed that day.
 */
async function bareHttpRate(seconds: number, connections: number, body: string): Promise<{ rate: number; p99: number }> {
  const server = `const { randomUUID } = require('node:crypto');
require('node:http').createServer((req, res) => {
  req.resume().on('end', () => {
    const id = randomUUID();
    res.writeHead(202, { 'content-type': 'application/json', location: '/ingest/' + id }).end(JSON.stringify({ raw_id: id, status_url: '/ingest/' + id }));
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });`;
  const child = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    const url = `http://127.0.0.1:${chunk.toString().trim()}/ingest`;
    const options = { url, method: 'POST' as const, connections, headers: { 'content-type': 'application/json' }, body };
    await autocannon({ ...options, duration: 3 });
    const result = await autocannon({ ...options, duration: seconds });
    return { rate: result.requests.total / seconds, p99: result.latency.p99 };
  } finally {
    child.kill();
  }
}

/**
 * POST /ingest of the seed payload (SPEC §9: ≥ 2,000 req/s, p99 ≤ 50 ms) with the whole stack running, each
 * request with its own time_stamp; then every payload answered 202 must reach `measurements`.
 */
async function ingestLoad(): Promise<void> {
  const seconds = Number(arg('ingest-seconds') ?? 30);
  const connections = Number(arg('ingest-connections') ?? 32);
  out(`\n## 5. POST /ingest of the seed payload: ${seconds} s, ${connections} connections, watcher + processor + query-api running`);
  const services: ServiceName[] = ['watcher', 'processor', 'query-api', 'ingest-api'];
  const seed = readFileSync(join(WORKSPACE_ROOT, 'fixtures/json/payload.json'), 'utf8');
  const bare = await bareHttpRate(Math.min(seconds, 10), connections, seed);
  out(`baseline: a bare node:http server that stores nothing answers ${Math.round(bare.rate).toLocaleString('en')} req/s, p99 ${bare.p99} ms (same client, ${Math.min(seconds, 10)} s)`);
  const stack = await Stack.start({ label: 'benchingest', services, env: { LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn' } });
  try {
    const original = '"2019-05-01T06:00:00-04:00"';
    if (!seed.includes(original)) throw new Error('fixtures/json/payload.json has an unexpected time_stamp');
    const [head, tail] = seed.split(original);
    const base = Date.UTC(2031, 0, 1);
    let n = 0;
    const accepted: string[] = [];
    const statuses = new Map<number, number>();
    // Warm-up (JIT, connection pools), not counted.
    await autocannon({ url: `${stack.url('ingest-api')}/ingest`, method: 'POST', connections: 8, duration: 3, headers: { 'x-api-key': stack.ingestKey, 'content-type': 'application/json' }, body: `${head}"2000-01-01T00:00:00Z"${tail}` });
    const cpuBefore = cpuSnapshot(stack, services);
    const result = await autocannon({
      url: `${stack.url('ingest-api')}/ingest`,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { 'x-api-key': stack.ingestKey, 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (req) => ({ ...req, body: `${head}"${new Date(base + n++ * 1000).toISOString()}"${tail}` }),
          onResponse: (status, body) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 202) accepted.push((JSON.parse(body) as { raw_id: string }).raw_id);
          },
        },
      ],
    });
    const cpuAfter = cpuSnapshot(stack, services);
    const rate = accepted.length / seconds;
    const share = rate / bare.rate;
    const p99 = result.latency.p99;
    out(`${accepted.length.toLocaleString('en')} payloads accepted (202) in ${seconds} s: ${Math.round(rate).toLocaleString('en')} req/s (target ≥ 2,000) ${rate >= 2000 ? 'PASS' : 'FAIL'}`);
    out(`ratio to the bare server: ${share.toFixed(2)}× of its rate (goal ≥ 0.10) ${share >= 0.1 ? 'PASS' : 'FAIL'}, storing every payload durably before its 202`);
    out(`latency p50 ${result.latency.p50} ms, p99 ${p99} ms (target ≤ 50) ${p99 <= 50 ? 'PASS' : 'FAIL'}, max ${result.latency.max} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}, errors ${result.errors}, timeouts ${result.timeouts}`);
    const batches = await fetch(`${stack.url('ingest-api')}/metrics`).then((r) => r.text());
    const sum = Number(/sluice_ingest_batch_size_sum\S* (\S+)/.exec(batches)?.[1]);
    const count = Number(/sluice_ingest_batch_size_count\S* (\S+)/.exec(batches)?.[1]);
    const commitSeconds = Number(/sluice_ingest_batch_seconds_sum\S* (\S+)/.exec(batches)?.[1]);
    if (count) out(`group commit: ${count.toLocaleString('en')} batches, ${(sum / count).toFixed(1)} payloads per fsync/transaction on average, ${((1000 * commitSeconds) / count).toFixed(1)} ms each`);
    // Where the machine's CPU went, per accepted payload: what bounds the rate when every core is busy.
    const perPayload = [...cpuAfter].map(([name, ms]) => [name, (ms - (cpuBefore.get(name) ?? 0)) / Math.max(1, accepted.length)] as const).sort((a, b) => b[1] - a[1]);
    const total = perPayload.reduce((n, [, ms]) => n + ms, 0);
    out(`CPU per accepted payload during the run: ${perPayload.map(([name, ms]) => `${name} ${ms.toFixed(2)} ms`).join(', ')}; total ${total.toFixed(2)} ms (${cpus().length} CPUs: at most ~${Math.round((cpus().length * 1000) / total).toLocaleString('en')} payloads/s at this cost)`);

    // Durability end to end: every 202 becomes a measurements row (the processor drains the backlog).
    const t0 = performance.now();
    const pending = async () => {
      const [{ n: left }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM ingest_files WHERE source = 'api' AND status IN ('queued','processing')`);
      return Number(left);
    };
    await waitFor('backlog processed', async () => (await pending()) === 0, 3600000, 1000);
    const drainMs = performance.now() - t0;
    const [{ loaded }] = await stack.query<{ loaded: string }>(`SELECT count(*) AS loaded FROM measurements m JOIN unnest($1::uuid[]) a(id) ON m.file_id = a.id`, [accepted]);
    const missing = accepted.length - Number(loaded);
    out(`processor drained the backlog in ${secs(drainMs)}; measurements rows for accepted payloads: ${Number(loaded).toLocaleString('en')} of ${accepted.length.toLocaleString('en')} ${missing === 0 ? 'PASS' : `FAIL (${missing} missing)`}`);
  } finally {
    await stack.stop();
  }
}

/** POST /ingest/files of a ~200 MB CSV (issue criterion: ingest-api RSS < 150 MB, and the file loads). */
async function uploadMemory(): Promise<void> {
  const rows = Number(arg('upload-rows') ?? 2_750_000);
  out(`\n## 6. ingest-api peak RSS while a generated CSV of ${rows.toLocaleString('en')} readings (~200 MB by default) is uploaded through POST /ingest/files`);
  const stack = await Stack.start({ label: 'benchupload', services: ['watcher', 'processor', 'ingest-api'], env: { LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' } });
  try {
    const staging = stageDir(stack);
    generateLongFormat(staging, { sensors: 50, rows, files: 1, bad: 0 });
    const file = join(staging, 'timeseries', readdirSync(join(staging, 'timeseries'))[0]);
    const size = statSync(file).size;
    const pid = stack.pid('ingest-api')!;
    const idle = peakRssMb(pid);
    const t0 = performance.now();
    const res = await fetch(`${stack.url('ingest-api')}/ingest/files?filename=upload.csv`, {
      method: 'POST',
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      headers: { 'x-api-key': stack.ingestKey, 'content-type': 'text/csv' },
      duplex: 'half',
    } as RequestInit);
    const sentMs = performance.now() - t0;
    const peak = peakRssMb(pid);
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    const { raw_id } = (await res.json()) as { raw_id: string };
    out(`${(size / 1024 ** 2).toFixed(0)} MB stored in ${secs(sentMs)}; ingest-api peak RSS (VmHWM) ${peak.toFixed(0)} MB (${idle.toFixed(0)} MB before; target < 150) ${peak < 150 ? 'PASS' : 'FAIL'}`);
    const statuses = await stack.waitForTerminal(1, 3600000);
    const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data WHERE file_id = $1`, [raw_id]);
    out(`loaded in ${secs(performance.now() - t0)}: ${Number(n).toLocaleString('en')} of ${rows.toLocaleString('en')} readings (${JSON.stringify(statuses)}) ${Number(n) === rows ? 'PASS' : 'FAIL'}`);
  } finally {
    await stack.stop();
  }
}

/** The hostile-input corpus (fixtures/hostile) at full size: every case's outcome against its manifest entry. */
async function hostileCorpus(): Promise<void> {
  const cases = loadHostileCorpus();
  out(`\n## 7. Hostile-input corpus at full size (${cases.length} cases)`);
  const stack = await Stack.start({ label: 'benchhostile', services: ['watcher', 'processor', 'ingest-api', 'query-api'], env: { ...HOSTILE_STACK_ENV, LOG_LEVEL: 'warn' } });
  try {
    const outcomes = await runHostileCorpus(stack, cases, 'full');
    const failing = cases.filter((c) => (outcomes.get(c.id) ?? []).length > 0);
    for (const c of failing) out(`${c.knownDefect ? `known defect (${c.knownDefect})` : 'FAIL'} ${c.channel} ${c.id}: ${(outcomes.get(c.id) ?? []).join('; ')}`);
    const fixed = cases.filter((c) => c.knownDefect && !failing.includes(c));
    for (const c of fixed) out(`known defect ${c.knownDefect} no longer shows in ${c.id}: remove its mark`);
    out(`${cases.length - failing.length} cases hold, ${failing.filter((c) => c.knownDefect).length} known defects, ${failing.filter((c) => !c.knownDefect).length} unexpected ${failing.some((c) => !c.knownDefect) ? 'FAIL' : 'PASS'}`);
  } finally {
    await stack.stop();
  }
}

/** A long seeded fault campaign (tools/faults): `--fault-rounds` (100) rounds from `--fault-seed` (1). */
async function faultCampaign(): Promise<void> {
  const rounds = arg('fault-rounds') ?? '100';
  const seed = arg('fault-seed') ?? '1';
  out(`\n## 8. Fault campaign: ${rounds} rounds, seed ${seed}`);
  const child = spawn(process.execPath, ['-r', join(WORKSPACE_ROOT, 'tools/scripts/register.cjs'), join(WORKSPACE_ROOT, 'tools/faults/campaign.ts'), '--rounds', rounds, '--seed', seed], { cwd: WORKSPACE_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number | null];
  out(`fault campaign ${code === 0 ? 'PASS: 0 invariant violations' : `FAIL (exit ${code})`}`);
}

/** Every section, in run order; `--only name[,name]` picks some. Append new sections here. */
const SECTIONS: { name: string; run: () => Promise<void> }[] = [
  { name: 'e2e', run: endToEnd },
  { name: 's3', run: s3Source },
  { name: 'small-files', run: smallFileLatency },
  { name: 'dashboard', run: dashboardLatency },
  { name: 'replay', run: () => replaySection({ seeds: seedSet, out, pct, replays: arg('replays') ? Number(arg('replays')) : undefined }) },
  {
    name: 'large',
    run: async () => {
      if (skipLarge) out('\n(large file skipped)');
      else await largeFile();
    },
  },
  { name: 'query', run: queryLatency },
  { name: 'ingest', run: ingestLoad },
  { name: 'upload', run: uploadMemory },
  { name: 'hostile', run: hostileCorpus },
  { name: 'faults', run: faultCampaign },
  { name: 'logs', run: () => logsSection(out) },
  { name: 'compressed', run: () => compressedFiles({ out, secs, peakRssMb, stageDir, largeBytes, skipLarge, seeds: seedSet }) },
  { name: 'json-large', run: () => largeJsonDocument({ out, peakRssMb, mb: Number(arg('json-mb') ?? 1024), skip: skipLarge }) },
  { name: 'partitions', run: () => partitionsSection({ out, rows: Number(arg('partition-rows') ?? 1_000_000), reps: Number(arg('partition-reps') ?? 3) }) },
  { name: 'contracts', run: () => contractsSection({ out, peakRssMb, mb: Number(arg('contracts-mb') ?? 1024), skip: skipLarge }) },
];

async function main(): Promise<void> {
  const unknown = (only ?? []).filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown section ${unknown.join(', ')} for --only; sections: ${SECTIONS.map((s) => s.name).join(', ')}`);
  out(`# Sluice benchmark (${new Date().toISOString()}, seeds: ${seedsArg ? resolve(seedsArg) : 'generated in their shape when a section needs them (--seeds DIR for the real set)'})`);
  for (const s of SECTIONS) if (!only || only.includes(s.name)) await s.run();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
