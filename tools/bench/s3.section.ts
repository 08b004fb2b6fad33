// Bench section: readings loaded from an S3 bucket (s3rver) beside the drop folder, same data, same run.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { generateLongFormat, S3TestServer, Stack } from '@sluice/testing';
import { cpuMs } from './cpu.util';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const out = (line = '') => process.stdout.write(line + '\n');
const secs = (ms: number) => (ms / 1000).toFixed(2) + ' s';
const perSecond = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en');

/** Both legs run the pipeline as the end-to-end section does: two processors, one file at a time each. */
const STACK_ENV = { PROCESSOR_CONCURRENCY: '1', LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' };
const PROCESSORS = 2;
const SENSORS = 50;
const TARGET_RATIO = 1.3;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

interface Leg {
  ms: number;
  /** From the start to the last ledger row created (every object listed, hashed and claimed). */
  claimedMs: number;
  /** CPU time of the watcher, the processors together and the S3 server during the leg. */
  cpu: { watcher: number; processors: number; s3: number };
}

/**
 * One leg: the stack runs without its watcher while the data waits in the source; the clock starts when the
 * watcher is started and stops when every file is terminal. Both legs pay the same boot, listing and claim.
 */
async function leg(label: string, env: Record<string, string>, place: (stack: Stack) => Promise<void>, files: number, rows: number, s3Pid?: number): Promise<Leg> {
  const stack = await Stack.start({ label, services: ['processor'], processors: PROCESSORS, env: { ...STACK_ENV, ...env } });
  try {
    await place(stack);
    const processorsCpu = () => Array.from({ length: PROCESSORS }, (_, i) => cpuMs(stack.pid('processor', i) ?? 0)).reduce((a, b) => a + b, 0);
    const cpu0 = { processors: processorsCpu(), s3: s3Pid ? cpuMs(s3Pid) : 0 };
    const started = Date.now();
    const t0 = performance.now();
    await stack.startService('watcher');
    const statuses = await stack.waitForTerminal(files, 3_600_000);
    const ms = performance.now() - t0;
    const cpu = { watcher: cpuMs(stack.pid('watcher') ?? 0), processors: processorsCpu() - cpu0.processors, s3: s3Pid ? cpuMs(s3Pid) - cpu0.s3 : 0 };
    const [{ last }] = await stack.query<{ last: string }>(`SELECT (extract(epoch FROM max(created_at)) * 1000)::float8 AS last FROM ingest_files`);
    const loaded = await stack.count('raw_sensor_data');
    const named = Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM sensors WHERE name LIKE 'sensor\\_%'`))[0].n);
    if (statuses['processed'] !== files || loaded !== rows || named !== SENSORS) {
      throw new Error(`${label}: ${JSON.stringify(statuses)}, ${loaded} readings of ${rows}, ${named} named sensors of ${SENSORS}`);
    }
    return { ms, claimedMs: Number(last) - started, cpu };
  } finally {
    await stack.stop();
  }
}

/** Reads every object once from the server, `parallel` at a time: the server's own ceiling, without Sluice. */
async function rawGets(s3: S3TestServer, bucket: string, keys: string[], parallel: number): Promise<number> {
  const t0 = performance.now();
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        const res = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        for await (const chunk of res.Body as Readable) void chunk;
      }
    }),
  );
  return performance.now() - t0;
}

/**
 * `--s3-rows N` (default 10,000,000) readings of `--s3-files N` (default 100) generated long-CSV files plus
 * their mapping (tools/data/gen-sensor-timeseries.mjs): loaded from the drop folder, then from a bucket of a
 * local s3rver, each into a fresh database. Prints rows/s for both and the ratio of the times.
 */
export async function s3Source(): Promise<void> {
  const rows = Number(arg('s3-rows') ?? 10_000_000);
  const parts = Number(arg('s3-files') ?? 100);
  out(`\n## 1b. S3 source: ${rows.toLocaleString('en')} readings (${parts} objects + mapping) from s3rver vs the same files from the drop folder`);
  const data = mkdtempSync(join(tmpdir(), 'sluice-bench-s3-'));
  const s3 = await S3TestServer.start();
  try {
    const g0 = performance.now();
    const summary = generateLongFormat(data, { sensors: SENSORS, rows, files: parts, bad: 0 });
    if (summary.rows !== rows) throw new Error(`the generator wrote ${summary.rows} readings, not ${rows}`);
    const paths = walk(data);
    const files = paths.length;
    const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
    await s3.createBucket('bench');
    const keys = await s3.uploadTree('bench', data, ['mapping/mapping.csv']);
    out(`setup: ${files} files, ${(bytes / 1024 ** 2).toFixed(0)} MB generated and uploaded in ${secs(performance.now() - g0)} (not measured)`);

    const drop = await leg('benchs3drop', {}, async (stack) => {
      for (const p of paths) {
        const to = join(stack.dropzone, 'incoming', relative(data, p));
        mkdirSync(join(to, '..'), { recursive: true });
        copyFileSync(p, to);
      }
    }, files, rows);
    const source = s3.source('bench');
    const s3Leg = await leg('benchs3', { S3_SOURCES: JSON.stringify([source]), S3_LIST_INTERVAL_MS: '1000' }, () => Promise.resolve(), files, rows, s3.pid);

    const ratio = s3Leg.ms / drop.ms;
    const detail = (l: Leg) => `(all claimed after ${secs(l.claimedMs)}; CPU: watcher ${secs(l.cpu.watcher)}, processors ${secs(l.cpu.processors)}${l.cpu.s3 ? `, s3rver ${secs(l.cpu.s3)}` : ''})`;
    out(`drop folder ${secs(drop.ms)}  ${perSecond(rows, drop.ms)} rows/s  ${detail(drop)}`);
    out(`S3 source   ${secs(s3Leg.ms)}  ${perSecond(rows, s3Leg.ms)} rows/s  ${detail(s3Leg)}`);
    out(`ratio       ${ratio.toFixed(2)}×  (target ≤ ${TARGET_RATIO.toFixed(2)}×)  ${ratio <= TARGET_RATIO ? 'PASS' : 'FAIL'}`);

    // Where the time goes: the server's raw GET rate (one reader, and one per processor) next to a local read.
    const l0 = performance.now();
    for (const p of paths) readFileSync(p);
    const localMs = performance.now() - l0;
    const c0 = cpuMs(s3.pid ?? 0);
    const get1 = await rawGets(s3, 'bench', keys, 1);
    const getCpu = cpuMs(s3.pid ?? 0) - c0;
    const getN = await rawGets(s3, 'bench', keys, PROCESSORS);
    const mbps = (ms: number) => `${(bytes / 1024 ** 2 / (ms / 1000)).toFixed(0)} MB/s`;
    out(`reading all ${(bytes / 1024 ** 2).toFixed(0)} MB once: local files ${secs(localMs)} (${mbps(localMs)}); s3rver GETs ${secs(get1)} (${mbps(get1)}; s3rver CPU ${secs(getCpu)}), ${PROCESSORS} at a time ${secs(getN)} (${mbps(getN)}); load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);
  } finally {
    await s3.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
