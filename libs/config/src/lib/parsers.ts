/** Parsers for structured variables; each throws a message naming what is wrong. */

export interface MetricRange {
  min: number;
  max: number;
}
export type MetricRanges = Record<string, MetricRange>;

export const DEFAULT_METRIC_RANGES = 'temp=-50..50,humidity=0..100,co=0..1,lpg=0..1,smoke=0..1';

/** `temp=-50..50,humidity=0..100` → { temp: {min:-50,max:50}, … } */
export function parseMetricRanges(text: string): MetricRanges {
  const ranges: MetricRanges = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+)=(-?[0-9.eE+]+)\.\.(-?[0-9.eE+]+)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not metric=min..max`);
    const min = Number(m[2]);
    const max = Number(m[3]);
    if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) throw new Error(`"${part}" has no valid range`);
    ranges[m[1]] = { min, max };
  }
  return ranges;
}

export function parseList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const DURATION_UNITS_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A retention period: `36h`, `90d`, `12w`; unset or empty keeps everything (undefined). Months and years are
 * not units, since they have no fixed length: `365d`.
 */
export function parseDuration(text: string | undefined): number | undefined {
  const t = (text ?? '').trim();
  if (t === '') return undefined;
  const m = /^([1-9][0-9]{0,5})([hdw])$/.exec(t);
  if (!m) throw new Error(`"${t}" is not a period such as 36h, 90d or 12w`);
  return Number(m[1]) * DURATION_UNITS_MS[m[2]];
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };

/** A size in bytes: `1073741824`, `512MiB`, `1GiB`, `2GB`; `0` turns a limit off. */
export function parseByteSize(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${text}" is not a size such as 1073741824, 512MiB or 1GiB`);
  return Math.floor(Number(m[1]) * unit);
}

const BINARY_UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A size as people read it: `512 bytes`, `12 MiB`, `1.5 GiB` (binary units, at most one decimal). */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
  return `${shown} ${BINARY_UNITS[unit]}`;
}
