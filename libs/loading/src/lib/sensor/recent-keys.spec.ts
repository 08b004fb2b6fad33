import { RecentKeys } from './recent-keys';

describe(RecentKeys.name, () => {
  it('tells new, same and different keys apart, exactly (-0 is not 0)', () => {
    const sut = new RecentKeys(2, 8);
    expect(sut.check(1, 1_600_000_000_000_000, [1, 2])).toBe('new');
    expect(sut.check(1, 1_600_000_000_000_000, [1, 2])).toBe('same');
    expect(sut.check(1, 1_600_000_000_000_000, [1, 3])).toBe('different');
    expect(sut.check(2, 1_600_000_000_000_000, [1, 2])).toBe('new');
    expect(sut.check(1, 1_600_000_000_000_001, [1, 2])).toBe('new');
    expect(sut.check(3, -5, [0, 0])).toBe('new');
    expect(sut.check(3, -5, [-0, 0])).toBe('different');
  });

  it('remembers two generations, then forgets', () => {
    const sut = new RecentKeys(1, 4);
    for (let i = 0; i < 8; i++) expect(sut.check(7, i, [i])).toBe('new');
    // keys 0..3 are the previous generation, 4..7 the current one
    expect(sut.check(7, 0, [0])).toBe('same');
    expect(sut.check(7, 8, [8])).toBe('new'); // rotates: 0..3 forgotten
    expect(sut.check(7, 1, [1])).toBe('new');
    expect(sut.check(7, 5, [5])).toBe('same');
  });

  it('grows past its first room without losing a key, then rotates at capacity', () => {
    const sut = new RecentKeys(3, 5000);
    for (let i = 0; i < 5000; i++) expect(sut.check(i % 7, i, [i, -i, i / 2])).toBe('new');
    for (let i = 0; i < 5000; i++) expect(sut.check(i % 7, i, [i, -i, i / 2])).toBe('same');
    expect(sut.check(1, 1, [1, -1, 0.75])).toBe('different');
    for (let i = 5000; i < 10000; i++) expect(sut.check(i % 7, i, [i, -i, i / 2])).toBe('new');
    expect(sut.check(0, 0, [0, -0, 0])).toBe('same');
    expect(sut.check(1, 10000, [1, 1, 1])).toBe('new'); // rotates: 0..4999 forgotten
    expect(sut.check(0, 0, [0, -0, 0])).toBe('new');
  });

  it('stays correct under many colliding keys', () => {
    const sut = new RecentKeys(1, 50_000);
    for (let i = 0; i < 50_000; i++) sut.check(i % 13, 1e15 + i * 1_000_000, [i]);
    for (let i = 0; i < 50_000; i += 997) expect(sut.check(i % 13, 1e15 + i * 1_000_000, [i])).toBe('same');
    expect(sut.check(0, 1e15 + 1, [0])).toBe('new');
  });
});
