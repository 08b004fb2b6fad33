import { ChunkReclaimer, RECLAIM_EVERY_BYTES, v8Scavenge, type Scavenge } from './chunk-reclaimer';

describe('ChunkReclaimer', () => {
  it('asks for a minor GC once per RECLAIM_EVERY_BYTES counted, never before', () => {
    const calls: Array<{ type: string }> = [];
    const reclaimer = new ChunkReclaimer(RECLAIM_EVERY_BYTES, (o) => calls.push(o));
    const chunk = 64 * 1024;
    for (let i = 0; i < RECLAIM_EVERY_BYTES / chunk - 1; i++) reclaimer.done(chunk);
    expect(calls).toEqual([]);
    reclaimer.done(chunk);
    expect(calls).toEqual([{ type: 'minor' }]);
    for (let i = 0; i < (2 * RECLAIM_EVERY_BYTES) / chunk; i++) reclaimer.done(chunk);
    expect(calls).toHaveLength(3);
  });

  it('does nothing where V8 gave no gc', () => {
    const reclaimer = new ChunkReclaimer(1, null);
    expect(() => reclaimer.done(10)).not.toThrow();
  });

  it("gets V8's gc once, and it runs a minor collection", () => {
    const gc: Scavenge | null = v8Scavenge();
    expect(typeof gc).toBe('function');
    expect(v8Scavenge()).toBe(gc);
    expect(() => gc?.({ type: 'minor' })).not.toThrow();
  });

  it('keeps the memory of dead chunks bounded while 256 MiB stream through', () => {
    const reclaimer = new ChunkReclaimer();
    const chunk = 64 * 1024;
    const start = process.memoryUsage().arrayBuffers;
    let peak = start;
    for (let i = 0; i < (256 * 1024 * 1024) / chunk; i++) {
      // As a socket or file read does: fresh memory outside the JS heap for every chunk, dead once used.
      const buf = Buffer.allocUnsafeSlow(chunk);
      buf[0] = i;
      reclaimer.done(buf.length);
      if (i % 16 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    // A few reclaim periods at most, not the tens of MB V8 would otherwise let build up.
    expect(peak - start).toBeLessThan(16 * 1024 * 1024);
  });
});
