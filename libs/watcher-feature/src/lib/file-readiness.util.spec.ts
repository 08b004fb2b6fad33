import { assessReadiness, recheckDelayMs } from './file-readiness.util';

describe(assessReadiness.name, () => {
  const window = 1000;
  const now = 1_000_000;

  it('claims at once a file renamed into place after its last write (ctime > mtime)', () => {
    expect(assessReadiness({ size: 5, mtimeMs: now - 10, ctimeMs: now - 5 }, undefined, now, window)).toEqual({ ready: true, reason: 'renamed_into_place' });
  });

  it('claims at once a file whose mtime is already older than the window', () => {
    expect(assessReadiness({ size: 5, mtimeMs: now - 1000, ctimeMs: now - 1000 }, undefined, now, window)).toEqual({ ready: true, reason: 'old_mtime' });
  });

  it('waits for a file written just now, then claims it once size and mtime held for the window', () => {
    const obs = { size: 5, mtimeMs: now + 500, ctimeMs: now + 500 }; // mtime ahead of our clock: only stability counts
    const first = assessReadiness(obs, undefined, now, window);
    expect(first).toEqual({ ready: false, state: { size: 5, mtimeMs: now + 500, since: now } });
    const state = first.ready ? undefined : first.state;
    expect(assessReadiness(obs, state, now + 999, window).ready).toBe(false);
    expect(assessReadiness(obs, state, now + 1000, window)).toEqual({ ready: true, reason: 'stable' });
  });

  it('restarts the window whenever size or mtime change (a file appended every 100 ms is never ready)', () => {
    let state;
    for (let t = 0; t < 3000; t += 100) {
      const verdict = assessReadiness({ size: t, mtimeMs: now + t, ctimeMs: now + t }, state, now + t + 50, window);
      expect(verdict.ready).toBe(false);
      state = verdict.ready ? undefined : verdict.state;
    }
  });

  it('re-stats on a short timer', () => {
    expect(recheckDelayMs(1000)).toBe(250);
    expect(recheckDelayMs(200)).toBe(50);
    expect(recheckDelayMs(0)).toBe(25);
  });
});
