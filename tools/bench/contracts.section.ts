// A large CSV loaded through a data contract by a real stack, against psql \copy of the same file into the same table.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, waitFor } from '@sluice/testing';

export interface ContractsBench {
  out: (line?: string) => void;
  peakRssMb: (pid: number) => number;
  /** Size of the CSV in MiB (`--contracts-mb`, default 1024). */
  mb: number;
  /** `--skip-large`. */
  skip: boolean;
}

/**
 * The contract: a plain CSV (comma, ISO times with their offset), so that psql \copy reads the very same file into
 * the very same table; five typed columns with the checks a contract usually has (required, a range, an enum).
 */
const CONTRACT = `inputs:
  glob: "bench_events_*.csv"
format:
  type: csv
columns:
  - { source: ts, name: ts, type: timestamptz, required: true }
  - { source: station, name: station, type: text, required: true, max_length: 20 }
  - { source: temperature, name: temperature, type: float, min: -80, max: 60 }
  - { source: humidity, name: humidity, type: int, min: 0, max: 100 }
  - { source: status, name: status, type: text, enum: [ok, warn, fail] }
table:
  key: [station, ts]
  time_column: ts
`;
const STATIONS = 500;
const START_MS = Date.UTC(2025, 0, 1);
const STATUSES = ['ok', 'ok', 'ok', 'warn', 'fail'];

/** Writes `bytes` of the contract's CSV (every station one row a minute, in time order); returns the rows written. */
async function writeEvents(path: string, bytes: number): Promise<number> {
  const w = createWriteStream(path);
  w.write('ts,station,temperature,humidity,status\n');
  let written = 0;
  let rows = 0;
  while (written < bytes) {
    let chunk = '';
    for (let i = 0; i < 5000; i++, rows++) {
      const ts = new Date(START_MS + Math.floor(rows / STATIONS) * 60_000).toISOString();
      chunk += `${ts},ST-${String(rows % STATIONS).padStart(4, '0')},${((rows % 700) / 10 - 20).toFixed(1)},${rows % 101},${STATUSES[rows % 5]}\n`;
    }
    written += Buffer.byteLength(chunk);
    if (!w.write(chunk)) await once(w, 'drain');
  }
  w.end();
  await once(w, 'finish');
  return rows;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (rows: number, ms: number) => `${Math.round(rows / (ms / 1000)).toLocaleString('en')} rows/s`;

/**
 * Rename into incoming/ → the file's ledger row terminal, through the contract (its table made on the way), and the
 * processor's peak RSS; then `psql \copy` of the same file into a copy of the table the contract made (same columns,
 * key and indexes, empty), timed alone. The ratio is the first over the second.
 */
export async function contractsSection({ out, peakRssMb, mb, skip }: ContractsBench): Promise<void> {
  if (skip) return void out('\n(contracts skipped)');
  const target = mb * 1024 ** 2;
  const label = mb >= 1024 ? `${(mb / 1024).toFixed(2)} GiB` : `${mb} MiB`;
  out(`\n## Contracts: a generated ${label} CSV through a data contract vs psql \\copy of the same file into the same table`);
  const stack = await Stack.start({ label: 'benchcontracts', services: ['watcher', 'processor'], env: { LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' } });
  const staging = mkdtempSync(join(stack.dropzone, '..', 'contracts-staging-'));
  try {
    mkdirSync(stack.contractsDir, { recursive: true });
    writeFileSync(join(stack.contractsDir, 'bench_events.yaml'), CONTRACT);
    const file = join(staging, 'bench_events_0001.csv');
    const rows = await writeEvents(file, target);
    const size = statSync(file).size;
    const pid = stack.pid('processor');
    if (pid === undefined) throw new Error('the processor is not running');
    const idle = peakRssMb(pid);
    const t0 = performance.now();
    renameSync(file, join(stack.dropzone, 'incoming', 'bench_events_0001.csv'));
    const statuses = await stack.waitForTerminal(1, 4 * 3600_000);
    const loadMs = performance.now() - t0;
    const peak = peakRssMb(pid);
    const loaded = await stack.count('datasets.bench_events');
    out(`${(size / 1024 ** 2).toFixed(0)} MB, ${rows.toLocaleString('en')} rows → ${loaded.toLocaleString('en')} loaded (${JSON.stringify(statuses)})`);

    // The baseline's table: a copy of the one the contract made (same columns, key and indexes), empty; lineage by defaults.
    execFileSync('psql', [stack.db.url, '-qc', `CREATE TABLE datasets.bench_events_copy (LIKE datasets.bench_events INCLUDING ALL);
      ALTER TABLE datasets.bench_events_copy ALTER COLUMN file_id SET DEFAULT '00000000-0000-0000-0000-000000000000', ALTER COLUMN line SET DEFAULT 0`]);
    const copyFile = join(stack.dropzone, 'processed', 'bench_events_0001.csv');
    await waitFor('the file filed in processed/', async () => existsSync(copyFile), 60_000, 100);
    const c0 = performance.now();
    execFileSync('psql', [stack.db.url, '-qc', `\\copy datasets.bench_events_copy (ts, station, temperature, humidity, status) FROM '${copyFile}' WITH (FORMAT csv, HEADER true)`]);
    const copyMs = performance.now() - c0;
    const copied = await stack.count('datasets.bench_events_copy');
    const ratio = loadMs / copyMs;
    out(`through the contract ${secs(loadMs)}  ${rate(loaded, loadMs)}`);
    out(`psql \\copy          ${secs(copyMs)}  ${rate(copied, copyMs)}`);
    out(`ratio               ${ratio.toFixed(2)}×  (goal ≤ 1.50×)  ${ratio <= 1.5 ? 'PASS' : 'FAIL'}`);
    out(`processor peak RSS ${peak.toFixed(0)} MB (idle ${idle.toFixed(0)} MB; target ≤ 300) ${peak <= 300 ? 'PASS' : 'FAIL'}`);
    if (loaded !== rows || copied !== rows) out(`COUNT MISMATCH (generated ${rows}, loaded ${loaded}, copied ${copied})`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    await stack.stop();
  }
}
