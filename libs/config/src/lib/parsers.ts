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
