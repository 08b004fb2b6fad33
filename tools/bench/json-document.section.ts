// A single JSON vehicle_status document of `mb` megabytes, generated as it is written, loaded by a real stack.
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, writeFleetDocument } from '@sluice/testing';

export interface JsonDocumentBench {
  out: (line?: string) => void;
  peakRssMb: (pid: number) => number;
  /** Size of the document in MiB (`--json-mb`, default 1024). */
  mb: number;
  /** `--skip-large`. */
  skip: boolean;
}

/** Distinct vehicles in the generated fleet: the table holds one row per vehicle, the newest report. */
const VEHICLES = 50_000;

export async function largeJsonDocument({ out, peakRssMb, mb, skip }: JsonDocumentBench): Promise<void> {
  if (skip) return void out('\n(large JSON document skipped)');
  const target = mb * 1024 ** 2;
  out(`\n## JSON document: processor peak RSS and rows/s for one generated ${(target / 1024 ** 3).toFixed(2)} GB vehicle_status document`);
  const stack = await Stack.start({ label: 'benchjson', services: ['watcher', 'processor'], env: { LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' } });
  // Staged beside the drop folder (same file system), renamed in when complete.
  const staging = mkdtempSync(join(stack.dropzone, '..', 'json-staging-'));
  try {
    const big = join(staging, 'fleet.json');
    const items = await writeFleetDocument(big, { bytes: target, vehicles: VEHICLES });
    const size = statSync(big).size;
    const pid = stack.pid('processor');
    if (pid === undefined) throw new Error('the processor is not running');
    const idle = peakRssMb(pid);
    const t0 = performance.now();
    renameSync(big, join(stack.dropzone, 'incoming', 'fleet.json'));
    const statuses = await stack.waitForTerminal(1, 4 * 3600_000);
    const ms = performance.now() - t0;
    const peak = peakRssMb(pid);
    const [ledger] = await stack.query<{ rows_total: string; rows_loaded: string }>(`SELECT rows_total, rows_loaded FROM ingest_files`);
    const rows = Number(ledger?.rows_loaded ?? 0);
    const vehicles = await stack.count('vehicles_status');
    out(`${(size / 1024 ** 2).toFixed(0)} MB, ${items.toLocaleString('en')} items → ${rows.toLocaleString('en')} rows loaded (${vehicles.toLocaleString('en')} vehicles) in ${(ms / 1000).toFixed(1)} s (${JSON.stringify(statuses)})`);
    out(`${Math.round(rows / (ms / 1000)).toLocaleString('en')} rows/s`);
    out(`processor peak RSS ${peak.toFixed(0)} MB (idle ${idle.toFixed(0)} MB; target ≤ 300) ${peak <= 300 ? 'PASS' : 'FAIL'}`);
    if (rows !== items) out('COUNT MISMATCH');
  } finally {
    rmSync(staging, { recursive: true, force: true });
    await stack.stop();
  }
}
