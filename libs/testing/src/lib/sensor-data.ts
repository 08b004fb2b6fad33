import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './stack';

export const FIXTURES = join(WORKSPACE_ROOT, 'fixtures');

/**
 * What a wide sensor CSV should load, computed independently of the product's parser: valid lines (every
 * field quoted, a numeric ts), distinct (device, ts) keys × metrics, and the line numbers of bad lines.
 */
export function expectedWide(path: string): { lines: number; valid: number; readings: number; badLines: number[]; devices: Set<string>; metrics: string[] } {
  const text = readFileSync(path, 'utf8').replace(/\r/g, '');
  const rows = text.split('\n').filter((l) => l.length > 0);
  const header = rows[0].split(',').map((h) => h.replace(/"/g, ''));
  const metrics = header.slice(2);
  const keys = new Set<string>();
  const devices = new Set<string>();
  const badLines: number[] = [];
  let valid = 0;
  rows.slice(1).forEach((row, i) => {
    const f = row.split('","').map((x) => x.replace(/"/g, ''));
    if (f[0] === '' || Number.isNaN(Number(f[0]))) {
      badLines.push(i + 2);
      return;
    }
    valid++;
    devices.add(f[1]);
    keys.add(`${f[1]}|${Math.round(Number(f[0]) * 1e6)}`);
  });
  return { lines: rows.length - 1, valid, readings: keys.size * metrics.length, badLines, devices, metrics };
}

/** Long-format data in the object-store layout (mapping/ and timeseries/), from tools/data/gen-sensor-timeseries.mjs. */
export function generateLongFormat(out: string, opts: { sensors: number; rows: number; files: number; bad: number; seed?: number }): { rows: number; badRows: number } {
  const stdout = execFileSync(process.execPath, [
    join(WORKSPACE_ROOT, 'tools/data/gen-sensor-timeseries.mjs'),
    out,
    '--sensors', String(opts.sensors),
    '--rows', String(opts.rows),
    '--files', String(opts.files),
    '--bad', String(opts.bad),
    '--seed', String(opts.seed ?? 7),
  ]).toString();
  return JSON.parse(stdout) as { rows: number; badRows: number };
}

/** A wide CSV of `lines` lines for the given devices, one line every `stepSeconds` from `startEpoch`. */
export function wideCsv(opts: { lines: number; devices: string[]; startEpoch: number; stepSeconds?: number }): string {
  const out = ['"ts","device","co","humidity","light","lpg","motion","smoke","temp"'];
  const step = opts.stepSeconds ?? 1;
  for (let i = 0; i < opts.lines; i++) {
    const d = opts.devices[i % opts.devices.length];
    const ts = opts.startEpoch + Math.floor(i / opts.devices.length) * step;
    out.push(`"${ts}","${d}","0.00${i % 97}","${50 + (i % 40)}.0","${i % 2 ? 'True' : 'False'}","0.00${i % 89}","False","0.0${i % 83}","${20 + (i % 10)}.${i % 7}"`);
  }
  return out.join('\n') + '\n';
}

/**
 * A wide CSV in the layout of the seed files (realtime-pipeline/split_N.csv): epoch seconds with a fraction,
 * written as Java doubles ("1.5945120943859746E9"), and a bad line at each of `badLines` (file line numbers,
 * the header being line 1): in turn a timestamp that is not one, a humidity outside 0..100, a temp that is
 * not a number.
 */
export function seedLikeCsv(opts: { lines: number; devices: string[]; startEpoch: number; badLines?: number[] }): string {
  const bad = new Set(opts.badLines ?? []);
  let nth = 0;
  const rows = wideCsv(opts).trimEnd().split('\n');
  return (
    rows
      .map((row, i) => {
        if (i === 0) return row;
        const f = row.split('","');
        f[0] = `"${(Number(f[0].slice(1)) + (i % 1000) / 1024).toExponential().replace('e+', 'E')}`;
        if (bad.has(i + 1)) {
          const kind = nth++ % 3;
          if (kind === 0) f[0] = '"yesterday';
          else if (kind === 1) f[3] = '150.0';
          else f[8] = 'warm"';
        }
        return f.join('","');
      })
      .join('\n') + '\n'
  );
}
