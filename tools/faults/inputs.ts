import { createHash } from 'node:crypto';

/** Deterministic PRNG (mulberry32): a seed replays the same inputs and the same fault plan. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
}

/** Seed of round `round` of a campaign: rounds are reproducible one by one (`--first-round`). */
export const roundSeed = (seed: number, round: number): number => new Rng(seed ^ Math.imul(round + 1, 0x9e3779b1)).int(1, 2 ** 31 - 1);

export const METRICS = ['co', 'humidity', 'light', 'lpg', 'motion', 'smoke', 'temp'] as const;
/**
 * The processor's defaults: a file with a larger share of bad lines than MAX_INVALID_RATIO is quarantined whole
 * once at least MIN_INVALID_ROWS of them are bad, and a file of nothing but bad lines always is.
 */
const MAX_INVALID_RATIO = 0.05;
const MIN_INVALID_ROWS = 10;

/** One reading as the checker expects it in raw_sensor_data: sensor name and epoch second → value. */
export type Readings = Map<string, number>;
export const readingKey = (sensor: string, epoch: number) => `${sensor}|${epoch}`;

export interface CsvInput {
  /** Dropped in incoming/, uploaded to the ingest-api, or put in the watched bucket. */
  kind: 'drop' | 'upload' | 's3';
  name: string;
  body: Buffer;
  sha256: string;
  lines: number;
  badLines: number[];
  /** What the file loads when it is processed (empty when it is quarantined whole). */
  readings: Readings;
  outcome: 'processed' | 'quarantined';
  /** Lines of the file by key, for overlap files made from it. */
  goodLines: string[];
}

export interface PostInput {
  kind: 'post';
  name: string;
  body: Buffer;
  sha256: string;
  timestampUtc: number;
  mean: number;
  stdDev: number;
  samples: number;
  idempotencyKey?: string;
}

export type Input = CsvInput | PostInput;

const HEADER = '"ts","device","co","humidity","light","lpg","motion","smoke","temp"';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function goodLine(rng: Rng, device: string, ts: number): { line: string; values: number[] } {
  // Values with few decimals, inside METRIC_RANGES, so text and double agree exactly.
  const values = [rng.int(0, 999) / 1000, rng.int(0, 10000) / 100, rng.int(0, 1), rng.int(0, 999) / 1000, rng.int(0, 1), rng.int(0, 999) / 1000, rng.int(-400, 400) / 10];
  const text = values.map((v, i) => (i === 2 || i === 4 ? (v ? 'True' : 'False') : String(v)));
  return { line: `"${ts}","${device}",${text.map((t) => `"${t}"`).join(',')}`, values };
}

/** A bad line of one of the kinds a writer produces: unparsable time, a value not a number, out of range, short. */
function badLine(rng: Rng, device: string, ts: number): string {
  switch (rng.int(0, 3)) {
    case 0:
      return `"not-a-time","${device}","0.1","50","True","0.1","False","0.1","20"`;
    case 1:
      return `"${ts}","${device}","0.1","fifty","True","0.1","False","0.1","20"`;
    case 2:
      return `"${ts}","${device}","0.1","50","True","0.1","False","0.1","999"`;
    default:
      return `"${ts}","${device}","0.1","50"`;
  }
}

const readingsOf = (device: string, ts: number, values: number[], into: Readings) => values.forEach((v, i) => into.set(readingKey(`${device}/${METRICS[i]}`, ts), v));

/**
 * A wide sensor CSV of one device of its own (so a file's rows are found by its sensor names), some bad lines,
 * now and then a line repeated (same key, same values), optionally lines copied from an earlier file (an
 * overlap: the same readings arriving again in other content).
 */
export function sensorCsv(rng: Rng, kind: CsvInput['kind'], name: string, device: string, opts: { overlapFrom?: CsvInput; quarantine?: boolean }): CsvInput {
  const lines: string[] = [];
  const readings: Readings = new Map();
  const goodLines: string[] = [];
  const badLines: number[] = [];
  const n = rng.int(40, 400);
  const badShare = opts.quarantine ? 0.3 : rng.chance(0.5) ? rng.next() * 0.04 : 0;
  const start = 1_600_000_000 + rng.int(0, 50_000_000);
  for (let i = 0; i < n; i++) {
    const ts = start + i * 10;
    if (rng.next() < badShare) {
      badLines.push(lines.length + 2);
      lines.push(badLine(rng, device, ts));
      continue;
    }
    const { line, values } = goodLine(rng, device, ts);
    lines.push(line);
    goodLines.push(line);
    readingsOf(device, ts, values, readings);
    if (rng.chance(0.01)) lines.push(line);
  }
  if (opts.overlapFrom) {
    for (const line of opts.overlapFrom.goodLines.slice(0, 10)) {
      lines.push(line);
      const f = line.slice(1, -1).split('","');
      readingsOf(f[1], Number(f[0]), f.slice(2).map((t) => (t === 'True' ? 1 : t === 'False' ? 0 : Number(t))), readings);
    }
  }
  const body = Buffer.from([HEADER, ...lines].join('\n') + '\n');
  const bad = badLines.length;
  const outcome = bad === lines.length || (bad / lines.length > MAX_INVALID_RATIO && bad >= MIN_INVALID_ROWS) ? 'quarantined' : 'processed';
  return { kind, name, body, sha256: sha(body), lines: lines.length, badLines, readings: outcome === 'processed' ? readings : new Map(), outcome, goodLines };
}

/** The same bytes again under another name: a duplicate of the first copy. */
export function copyOf(earlier: CsvInput, kind: CsvInput['kind'], name: string): CsvInput {
  return { ...earlier, kind, name };
}

/** A measurement document of its own timestamp; mean and population std dev computed here. */
export function measurementPost(rng: Rng, name: string, timestampUtc: number, idempotencyKey?: string): PostInput {
  const data = Array.from({ length: rng.int(1, 12) }, () => rng.int(-10000, 10000) / 100);
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const stdDev = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length);
  const body = Buffer.from(JSON.stringify({ time_stamp: new Date(timestampUtc * 1000).toISOString().replace('Z', '+00:00'), data }));
  return { kind: 'post', name, body, sha256: sha(body), timestampUtc, mean, stdDev, samples: data.length, idempotencyKey };
}
