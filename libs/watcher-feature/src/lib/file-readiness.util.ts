/** What the readiness check needs from an lstat of the file. */
export interface FileObservation {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** Size and mtime last seen, and since when they have not changed. */
export interface StableState {
  size: number;
  mtimeMs: number;
  since: number;
}

export type ReadinessReason = 'renamed_into_place' | 'old_mtime' | 'stable';
export type Readiness = { ready: true; reason: ReadinessReason } | { ready: false; state: StableState };

/**
 * Whether an incoming file may be claimed now.
 *
 * ctime heuristic: every write sets mtime and ctime to the same instant, but rename() and link() touch
 * only ctime. So ctime later than mtime means the file got its name after its last write: a
 * rename-into-place writer has finished and needs no wait. A writer that chmods mid-write could fool it,
 * and on file systems with coarse timestamps a rename within one clock tick of the last write leaves
 * ctime == mtime; such files simply fall back to the stability window, which is always safe.
 * Otherwise: mtime already older than the window, or size and mtime unchanged for the window.
 */
export function assessReadiness(obs: FileObservation, prev: StableState | undefined, now: number, windowMs: number): Readiness {
  if (obs.ctimeMs > obs.mtimeMs) return { ready: true, reason: 'renamed_into_place' };
  if (now - obs.mtimeMs >= windowMs) return { ready: true, reason: 'old_mtime' };
  if (prev && prev.size === obs.size && prev.mtimeMs === obs.mtimeMs) {
    if (now - prev.since >= windowMs) return { ready: true, reason: 'stable' };
    return { ready: false, state: prev };
  }
  return { ready: false, state: { size: obs.size, mtimeMs: obs.mtimeMs, since: now } };
}

/** How often a waiting file is stat'ed again: a quarter of the window, between 25 and 250 ms. */
export function recheckDelayMs(windowMs: number): number {
  return Math.min(250, Math.max(25, Math.floor(windowMs / 4)));
}
