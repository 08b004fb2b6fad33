import { MAX_ABS_VALUE } from '@sluice/formats';
import { Bucket } from './bucket-aggregates';

const filled = (values: number[]) => {
  const b = new Bucket(1, 0);
  values.forEach((v) => b.add(v));
  return b;
};

// Values beyond ±MAX_ABS_VALUE are refused by the parsers; within it, Welford and Chan stay finite.
describe(Bucket.name, () => {
  it('±1.7e308 in one bucket would overflow: the reason for the bound', () => {
    const b = filled([1.7e308, -1.7e308, 1.7e308]);
    expect([Number.isFinite(b.mean), Number.isFinite(b.m2)]).toEqual([false, false]);
  });

  it('alternating ±MAX_ABS_VALUE keeps mean, m2 and std dev finite and right', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? MAX_ABS_VALUE : -MAX_ABS_VALUE));
    const b = filled(values);
    expect(Math.abs(b.mean)).toBeLessThanOrEqual(MAX_ABS_VALUE * 1e-12);
    expect(Math.sqrt(b.m2 / b.n) / MAX_ABS_VALUE).toBeCloseTo(1, 12);
    expect([b.min, b.max]).toEqual([-MAX_ABS_VALUE, MAX_ABS_VALUE]);
  });

  it('merging the largest buckets a bigint count allows stays finite (the SQL merge uses the same formula)', () => {
    const half = 2 ** 62;
    const low = Object.assign(new Bucket(1, 0), { n: half, mean: -MAX_ABS_VALUE, m2: 0, min: -MAX_ABS_VALUE, max: -MAX_ABS_VALUE });
    const high = Object.assign(new Bucket(1, 0), { n: half, mean: MAX_ABS_VALUE, m2: 0, min: MAX_ABS_VALUE, max: MAX_ABS_VALUE });
    low.merge(high);
    expect(low.mean).toBe(0);
    expect(Number.isFinite(low.m2)).toBe(true);
    expect(Math.sqrt(low.m2 / low.n)).toBeCloseTo(MAX_ABS_VALUE, -88);
  });

  it('equals a two-pass computation on ordinary data, merged in any split', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 20 + Math.sin(i) * 5);
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    const m2 = values.reduce((a, v) => a + (v - mean) ** 2, 0);
    const merged = filled(values.slice(0, 313));
    merged.merge(filled(values.slice(313)));
    for (const b of [filled(values), merged]) {
      expect(b.mean).toBeCloseTo(mean, 12);
      expect(b.m2 / m2).toBeCloseTo(1, 12);
    }
  });
});
