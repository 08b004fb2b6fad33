// The 41 realtime-pipeline files the bench's end-to-end, replay and compressed sections and the container test load: the real set from
// `--seeds DIR`, or, in a clone alone, files of the same shape and size generated here (deterministic).
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SeedSet {
  /** The folder of CSV files. */
  dir: string;
  /** Where it came from, for the report's heading. */
  origin: string;
  /** What loading every file must give. */
  expected: { readings: number; sensors: number; rejected: number };
}

/** The real set (`<seeds>/realtime-pipeline`): counted once when it was first loaded. */
const REAL_FIGURES = { readings: 2_836_197, sensors: 21, rejected: 29 };

/** `seeds` is the seed folder (holding realtime-pipeline/) or the realtime-pipeline folder itself. */
export function realSeedSet(seeds: string): SeedSet {
  const dir = existsSync(join(seeds, 'realtime-pipeline')) ? join(seeds, 'realtime-pipeline') : seeds;
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.csv'))) throw new Error(`no realtime-pipeline CSV files in ${seeds} (--seeds)`);
  return { dir, origin: `${dir} (--seeds)`, expected: REAL_FIGURES };
}

// The real files' shape: a quoted wide CSV, three devices reporting in turn about every 1.65 s, seven metrics
// (two of them booleans), 10,000 lines a file (the last one shorter) and a few lines without a timestamp.
const HEADER = '"ts","device","co","humidity","light","lpg","motion","smoke","temp"\n';
const DEVICES = ['b8:27:eb:bf:9d:51', '00:0f:00:70:91:0a', '1c:bf:ce:15:ec:4d'];
const METRICS = 7;
const FILES = 41;
const LINES_PER_FILE = 10_000;
const LAST_FILE_LINES = 5_185;
const START_EPOCH_S = 1_594_512_094.3859746;
const BAD_LINES = ['"","","INVALID","","","","","",""', '"","","","","","","","","-100.0"', '"","","","","","","","",""'];

/** A small deterministic generator (mulberry32): the same files on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let generated: SeedSet | undefined;

/** Writes the generated set once per run (~57 MB, a few seconds) into a temporary folder, removed at exit. */
export function generatedSeedSet(): SeedSet {
  if (generated) return generated;
  const root = mkdtempSync(join(tmpdir(), 'sluice-seeds-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'realtime-pipeline');
  mkdirSync(dir);
  const random = rng(20200712);
  let ts = START_EPOCH_S;
  let good = 0;
  let bad = 0;
  for (let f = 1; f <= FILES; f++) {
    const fd = openSync(join(dir, `split_${f}.csv`), 'w');
    try {
      const lines = f === FILES ? LAST_FILE_LINES : LINES_PER_FILE;
      const chunk: string[] = [HEADER];
      for (let i = 0; i < lines; i++) {
        // About one line in 14,000 has no timestamp, as in the real files: a row error each.
        if (random() < 1 / 14_000) {
          chunk.push(BAD_LINES[bad++ % BAD_LINES.length] + '\n');
        } else {
          ts += 0.3 + random() * 2.7;
          const device = DEVICES[Math.floor(random() * DEVICES.length)];
          const v = (lo: number, hi: number) => String(lo + random() * (hi - lo));
          const flag = () => (random() < 0.1 ? '"True"' : '"False"');
          chunk.push(`"${ts.toExponential(16).replace('e+', 'E')}","${device}","${v(0.001, 0.015)}","${v(40, 90).slice(0, 4)}",${flag()},"${v(0.002, 0.012)}",${flag()},"${v(0.005, 0.04)}","${v(15, 30).slice(0, 4)}"\n`);
          good++;
        }
        if (chunk.length >= 2000) writeSync(fd, chunk.splice(0).join(''));
      }
      writeSync(fd, chunk.join(''));
    } finally {
      closeSync(fd);
    }
  }
  generated = { dir, origin: `${FILES} files generated in the shape of the realtime-pipeline seeds (pass --seeds DIR for the real set)`, expected: { readings: good * METRICS, sensors: DEVICES.length * METRICS, rejected: bad } };
  return generated;
}

export const csvFilesOf = (set: SeedSet): string[] => readdirSync(set.dir).filter((f) => f.endsWith('.csv')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
