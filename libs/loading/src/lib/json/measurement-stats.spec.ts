import { measurementStats } from './measurement-stats';

describe(measurementStats.name, () => {
  it('gives mean and population std dev', () => {
    expect(measurementStats([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ count: 8, mean: 5, stdDev: 2 });
    expect(measurementStats([3])).toEqual({ count: 1, mean: 3, stdDev: 0 });
  });

  it('stays accurate with a large offset (where the one-pass formula fails)', () => {
    const s = measurementStats([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]);
    expect(s.mean).toBe(1e9 + 10);
    expect(s.stdDev).toBeCloseTo(Math.sqrt(22.5), 12);
  });
});
