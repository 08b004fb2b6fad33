import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes streamed between two reclaims. A scavenge of a young generation of dead chunks takes well under a
 * millisecond; at 1 MiB a 200 MB upload was stored faster than with none (freed chunks are reused warm).
 */
export const RECLAIM_EVERY_BYTES = 1024 * 1024;

/** V8's `gc`, asked for a minor collection (a scavenge of the young generation only). */
export type Scavenge = (options: { type: 'minor' }) => void;

let scavenge: Scavenge | null | undefined;

/**
 * V8's `gc` function, fetched from a throwaway context so the process's global scope never gets one (a
 * context made later, with `vm`, does; the services make none). Null where V8 refuses the flag: the
 * reclaimer then does nothing and memory is as without it.
 */
export function v8Scavenge(): Scavenge | null {
  if (scavenge === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      scavenge = runInNewContext('gc') as Scavenge;
    } catch {
      scavenge = null;
    }
  }
  return scavenge;
}

/**
 * Keeps a long stream's memory flat. Every chunk read from a socket or a file is a fresh Buffer whose bytes
 * live outside the JS heap and are freed only when a GC finds the Buffer dead. Copying a stream allocates
 * almost nothing else, so the young generation seldom fills and no scavenge runs: the dead chunks pile up
 * until V8's external-memory limit forces a full GC, ~40 MB above the resting size while a 200 MB upload
 * is stored. A scavenge every RECLAIM_EVERY_BYTES frees them while they are still young.
 */
export class ChunkReclaimer {
  private sinceLast = 0;

  constructor(
    private readonly every = RECLAIM_EVERY_BYTES,
    private readonly gc: Scavenge | null = v8Scavenge(),
  ) {}

  /** Counts the bytes of a chunk the caller is done with. */
  done(bytes: number): void {
    this.sinceLast += bytes;
    if (this.sinceLast < this.every || !this.gc) return;
    this.sinceLast = 0;
    this.gc({ type: 'minor' });
  }
}
