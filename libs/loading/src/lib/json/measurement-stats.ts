/**
 * Mean and population standard deviation of a sample, accurate to a few ulps: a Neumaier-compensated
 * sum for the mean, then the corrected two-pass sum of squared deviations (Σd² − (Σd)²/n).
 */
export function measurementStats(data: readonly number[]): { count: number; mean: number; stdDev: number } {
  const n = data.length;
  const mean = compensatedSum(data, (x) => x) / n;
  const dev = compensatedSum(data, (x) => x - mean);
  const sq = compensatedSum(data, (x) => (x - mean) * (x - mean));
  const variance = Math.max(0, (sq - (dev * dev) / n) / n);
  return { count: n, mean: mean + dev / n, stdDev: Math.sqrt(variance) };
}

function compensatedSum(data: readonly number[], f: (x: number) => number): number {
  let sum = 0;
  let c = 0;
  for (const x of data) {
    const v = f(x);
    const t = sum + v;
    c += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + c;
}
