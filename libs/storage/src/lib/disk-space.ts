import { statfs } from 'node:fs/promises';
import { formatBytes } from '@sluice/config';

/** What DiskSpace reads of `fs.statfs` (`bavail`: blocks free to unprivileged users). */
export type StatFs = (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

export interface DiskState {
  /** Bytes free on the drop folder's file system for an unprivileged writer; null when it could not be read. */
  freeBytes: number | null;
  /** MIN_FREE_DISK in bytes (0: no check). */
  minFreeBytes: number;
  /** Below MIN_FREE_DISK: new files are not claimed and bodies are not written to the drop folder. */
  low: boolean;
  /** Why the state is not plain "enough space": below the floor, or statfs failed. Null when fine. */
  problem: string | null;
  /** When it was read (the clock DiskSpace was given). */
  checkedAt: number;
}

/** Whether `freeBytes` is below the floor; a floor of 0 turns the check off. */
export function isDiskLow(freeBytes: number, minFreeBytes: number): boolean {
  return minFreeBytes > 0 && freeBytes < minFreeBytes;
}

/** The reason a low disk is reported with (readiness, logs, the API's 503). */
export function lowDiskReason(freeBytes: number, minFreeBytes: number): string {
  return `drop folder has ${formatBytes(freeBytes)} free, below MIN_FREE_DISK ${formatBytes(minFreeBytes)}`;
}

/** The state a statfs answer (or its failure) gives. A failed read is reported but pauses nothing: a guess is no reason to stop. */
export function judgeDisk(read: { freeBytes: number } | { error: Error }, minFreeBytes: number, checkedAt: number): DiskState {
  if ('error' in read) return { freeBytes: null, minFreeBytes, low: false, problem: `the free space of the drop folder cannot be read: ${read.error.message}`, checkedAt };
  const low = isDiskLow(read.freeBytes, minFreeBytes);
  return { freeBytes: read.freeBytes, minFreeBytes, low, problem: low ? lowDiskReason(read.freeBytes, minFreeBytes) : null, checkedAt };
}

/** How long an answer of `current()` is reused by default: a statfs per claim or upload would be cheap, but needless. */
export const DISK_STATE_MAX_AGE_MS = 1000;

/**
 * The free space of the drop folder's file system against MIN_FREE_DISK. `check()` reads it now (one read at a
 * time: callers meanwhile share it); `current()` reuses a recent answer. Listeners hear every change of `low`
 * (and of a failed read), never a repeat. DiskSpaceMonitor runs the periodic check and reports it.
 */
export class DiskSpace {
  private last: DiskState;
  private reading?: Promise<DiskState>;
  private readonly listeners: Array<(state: DiskState, previous: DiskState) => void> = [];

  constructor(
    readonly dir: string,
    readonly minFreeBytes: number,
    private readonly statFs: StatFs = statfs,
    private readonly now: () => number = Date.now,
  ) {
    this.last = { freeBytes: null, minFreeBytes, low: false, problem: null, checkedAt: Number.NEGATIVE_INFINITY };
  }

  /** False when MIN_FREE_DISK is 0: nothing is read and nothing ever pauses. */
  get enabled(): boolean {
    return this.minFreeBytes > 0;
  }

  /** The last state read (before the first read: not low). */
  get state(): DiskState {
    return this.last;
  }

  get low(): boolean {
    return this.last.low;
  }

  /** Reads the free space now. */
  check(): Promise<DiskState> {
    if (!this.enabled) return Promise.resolve(this.last);
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** The last state when read within `maxAgeMs`, else a new read. */
  current(maxAgeMs = DISK_STATE_MAX_AGE_MS): Promise<DiskState> {
    if (!this.enabled || this.now() - this.last.checkedAt <= maxAgeMs) return Promise.resolve(this.last);
    return this.check();
  }

  /** `listener(state, previous)` on each change of `low` or of `problem`'s kind (a read failing or recovering). */
  onChange(listener: (state: DiskState, previous: DiskState) => void): void {
    this.listeners.push(listener);
  }

  private async read(): Promise<DiskState> {
    let read: { freeBytes: number } | { error: Error };
    try {
      const s = await this.statFs(this.dir);
      read = { freeBytes: Number(s.bavail) * Number(s.bsize) };
    } catch (e) {
      read = { error: e as Error };
    }
    const previous = this.last;
    const state = judgeDisk(read, this.minFreeBytes, this.now());
    this.last = state;
    const unreadable = (s: DiskState) => s.freeBytes === null && s.problem !== null;
    if (state.low !== previous.low || unreadable(state) !== unreadable(previous)) for (const l of this.listeners) l(state, previous);
    return state;
  }
}
