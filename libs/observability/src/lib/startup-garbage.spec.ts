import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collectStartupGarbage } from './startup-garbage';

describe(collectStartupGarbage.name, () => {
  it('collects what start-up left behind', () => {
    let junk: { i: number; s: string }[] | null = Array.from({ length: 500_000 }, (_, i) => ({ i, s: `item ${i}` }));
    const withJunk = getHeapStatistics().used_heap_size;
    expect(junk.length).toBe(500_000);
    junk = null;
    collectStartupGarbage();
    // 500,000 objects and strings are well over 20 MB.
    expect(withJunk - getHeapStatistics().used_heap_size).toBeGreaterThan(20 * 1024 * 1024);
  });

  it('leaves gc unexposed to code that runs later', () => {
    collectStartupGarbage();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
