// Compressed input: a large gzip CSV's processor memory, and a zip of the seed CSVs against the files themselves.
import { createWriteStream, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Stack, waitFor, zipOf } from '@sluice/testing';
import { csvFilesOf, type SeedSet } from '../data/seed-set';

/** What bench.ts shares with a section. */
export interface BenchContext {
  out: (line?: string) => void;
  secs: (ms: number) => string;
  peakRssMb: (pid: number) => number;
  stageDir: (stack: Stack) => string;
  /** Uncompressed size of the large file (`--large-mb`). */
  largeBytes: number;
  skipLarge: boolean;
  seeds: () => SeedSet;
}

/** The large-file section's CSV, `bytes` of it, gzipped as it is generated (never whole on disk uncompressed). */
async function writeGzipCsv(path: string, bytes: number): Promise<number> {
  const devices = ['00:0f:00:70:91:0a', '1c:bf:ce:15:ec:4d', 'b8:27:eb:bf:9d:51'];
  let lines = 0;
  async function* csv(): AsyncGenerator<string> {
    let t = 1.6e9;
    let written = 0;
    yield '"ts","device","co","humidity","light","lpg","motion","smoke","temp"\n';
    while (written < bytes) {
      const chunk: string[] = [];
      for (let i = 0; i < 5000; i++) {
        t += 0.25;
        chunk.push(`"${t}","${devices[lines % 3]}","0.00${lines % 97}","${50 + (lines % 40)}.0","False","0.00${lines % 89}","False","0.0${lines % 83}","${20 + (lines % 10)}.${lines % 7}"`);
        lines++;
      }
      const s = chunk.join('\n') + '\n';
      written += Buffer.byteLength(s);
      yield s;
    }
  }
  await pipeline(Readable.from(csv()), createGzip({ level: 1 }), createWriteStream(path));
  return lines;
}

export async function compressedFiles(ctx: BenchContext): Promise<void> {
  const { out, secs } = ctx;
  if (ctx.skipLarge) out('\n(large gzip file skipped)');
  else {
    out(`\n## Compressed input: processor peak RSS while loading a ${(ctx.largeBytes / 1024 ** 3).toFixed(2)} GB (uncompressed) gzip CSV`);
    const stack = await Stack.start({ label: 'benchgz', services: ['watcher', 'processor'], env: { LOG_LEVEL: 'warn', ACK_WAIT_MS: '30000' } });
    try {
      const big = join(ctx.stageDir(stack), 'big.csv.gz');
      const lines = await writeGzipCsv(big, ctx.largeBytes);
      const pid = stack.pid('processor')!;
      const before = ctx.peakRssMb(pid);
      const t0 = performance.now();
      renameSync(big, join(stack.dropzone, 'incoming', 'big.csv.gz'));
      const statuses = await stack.waitForTerminal(1, 3600000);
      const ms = performance.now() - t0;
      const peak = ctx.peakRssMb(pid);
      const [row] = await stack.query<{ size_bytes: string; readings: string }>(`SELECT size_bytes, rows_written_by_table->>'raw_sensor_data' AS readings FROM ingest_files`);
      out(`${lines.toLocaleString('en')} lines, ${(Number(row.size_bytes) / 1024 ** 2).toFixed(0)} MB uncompressed → ${Number(row.readings ?? 0).toLocaleString('en')} readings in ${secs(ms)} (${JSON.stringify(statuses)})`);
      out(`processor peak RSS ${peak.toFixed(0)} MB (idle ${before.toFixed(0)} MB; target ≤ 300) ${peak <= 300 ? 'PASS' : 'FAIL'}`);
    } finally {
      await stack.stop();
    }
  }

  const set = ctx.seeds();
  const dir = set.dir;
  const files = csvFilesOf(set);
  out(`\n## Compressed input: a zip of the ${files.length} realtime-pipeline seed CSVs`);
  const stack = await Stack.start({ label: 'benchzip', services: ['watcher', 'processor'], processors: 2, env: { LOG_LEVEL: 'warn' } });
  try {
    const zip = join(ctx.stageDir(stack), 'seeds.zip');
    writeFileSync(zip, await zipOf(files.map((name) => ({ name, content: readFileSync(join(dir, name)) }))));
    const t0 = performance.now();
    renameSync(zip, join(stack.dropzone, 'incoming', 'seeds.zip'));
    const statuses = await waitFor('members terminal', async () => {
      const rows = await stack.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM ingest_files WHERE archive_id IS NOT NULL AND status IN ('processed','duplicate','quarantined','failed') GROUP BY status`);
      const done = rows.reduce((n, r) => n + Number(r.n), 0);
      return done === files.length ? Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) : null;
    }, 3600000, 1000);
    const ms = performance.now() - t0;
    const rows = await stack.count('raw_sensor_data');
    out(`members: ${JSON.stringify(statuses)}; raw_sensor_data ${rows.toLocaleString('en')} rows (the files give ${set.expected.readings.toLocaleString('en')}) ${rows === set.expected.readings ? 'PASS' : 'FAIL'} in ${secs(ms)}`);
  } finally {
    await stack.stop();
  }
}
