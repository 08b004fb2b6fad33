import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection, for a service to run once its modules have started and before it warms its code
 * up: starting a Nest app leaves a heap whose first mark-compact took ~50 ms, and without this it landed on the
 * first file. Before the warm-up, not after: a forced collection drops optimised code (a small file parsed in
 * 17–26 ms right after one, against ~6 ms without). `gc` is exposed only behind a flag, so it is taken from a new
 * context made while the flag is set, and the flag is cleared again. Returns the milliseconds it took.
 */
export function collectStartupGarbage(): number {
  const started = performance.now();
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return performance.now() - started;
}
