import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection, after the modules have started and before the service takes work. Starting a
 * Nest app, and the processor's warm-up, leave a heap whose first mark-compact took ~50 ms; without this it
 * landed on the first file or request. `gc` is exposed only behind a flag, so it is taken from a new context
 * made while the flag is set, and the flag is cleared again. Returns the milliseconds it took.
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
