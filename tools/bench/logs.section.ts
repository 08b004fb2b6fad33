import { once } from 'node:events';
import { createWriteStream, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from '@sluice/testing';

/** Lines of each generated file: the log and the CSV baseline hold as many. */
const LINES = 1_000_000;
const TAGS = ['info', 'warn', 'error', 'debug'];

/** Writes `lines` made by `line(i)` to `path`, in chunks, and returns its size in bytes. */
async function writeLines(path: string, header: string, line: (i: number) => string): Promise<number> {
  const w = createWriteStream(path);
  w.write(header);
  for (let i = 0; i < LINES; i += 5000) {
    const chunk: string[] = [];
    for (let j = i; j < Math.min(i + 5000, LINES); j++) chunk.push(line(j));
    if (!w.write(chunk.join('\n') + '\n')) await once(w, 'drain');
  }
  w.end();
  await once(w, 'finish');
  return statSync(path).size;
}

/** Drops `path` into the stack's drop folder and returns the seconds until its ledger row is terminal. */
async function timeLoad(stack: Stack, path: string, name: string, files: number): Promise<number> {
  const t0 = performance.now();
  renameSync(path, join(stack.dropzone, 'incoming', name));
  await stack.waitForTerminal(files, 3600000);
  return (performance.now() - t0) / 1000;
}

/**
 * Plain-text line files: lines/s of a generated log (timestamp, level word, message) against the rows/s of a
 * wide sensor CSV with as many lines, both through the drop folder on one stack.
 */
export async function logsSection(out: (line: string) => void): Promise<void> {
  out(`\n## Logs: ${LINES.toLocaleString('en')} plain-text lines vs as many wide-CSV rows (drop folder, one processor)`);
  const stack = await Stack.start({ label: 'benchlogs', services: ['watcher', 'processor'], env: { LOG_LEVEL: 'warn' } });
  const staging = mkdtempSync(join(stack.dropzone, '..', 'bench-logs-'));
  try {
    const t = Date.UTC(2024, 6, 21);
    const logBytes = await writeLines(join(staging, 'app.log'), '', (i) => `${new Date(t + i * 250).toISOString()} ${TAGS[i % 4].toUpperCase()} request ${i} from client-${i % 977} took ${i % 1000} ms`);
    const csvBytes = await writeLines(join(staging, 'rows.csv'), '"ts","device","temp"\n', (i) => `"${t / 1000 + i * 0.25}","bench:logs-${i % 7}","${20 + (i % 10)}.${i % 7}"`);
    const logS = await timeLoad(stack, join(staging, 'app.log'), 'app.log', 1);
    const csvS = await timeLoad(stack, join(staging, 'rows.csv'), 'rows.csv', 2);
    const [log] = await stack.query<{ status: string; rows_loaded: string }>(`SELECT status, rows_loaded FROM ingest_files WHERE original_name = 'app.log'`);
    out(`log: ${(logBytes / 1024 ** 2).toFixed(0)} MB, ${Number(log.rows_loaded).toLocaleString('en')} lines ${log.status} in ${logS.toFixed(1)} s → ${Math.round(LINES / logS).toLocaleString('en')} lines/s`);
    out(`csv: ${(csvBytes / 1024 ** 2).toFixed(0)} MB, ${LINES.toLocaleString('en')} rows in ${csvS.toFixed(1)} s → ${Math.round(LINES / csvS).toLocaleString('en')} rows/s`);
    out(`log lines/s ÷ CSV rows/s = ${(csvS / logS).toFixed(2)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    await stack.stop();
  }
}
