import { TokenBuckets } from './rate-limit.guard';

describe(TokenBuckets.name, () => {
  it('allows the burst, then the rate, per key', () => {
    let now = 0;
    const sut = new TokenBuckets(10, 3, () => now);
    expect([sut.take('a'), sut.take('a'), sut.take('a')]).toEqual([0, 0, 0]);
    expect(sut.take('a')).toBe(100);
    expect(sut.take('b')).toBe(0);
    now = 100;
    expect(sut.take('a')).toBe(0);
    expect(sut.take('a')).toBeGreaterThan(0);
  });

  it('never holds more than the burst however long a key was idle', () => {
    let now = 0;
    const sut = new TokenBuckets(1000, 2, () => now);
    now = 60_000;
    expect([sut.take('a'), sut.take('a')]).toEqual([0, 0]);
    expect(sut.take('a')).toBeGreaterThan(0);
  });
});
