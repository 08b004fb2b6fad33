import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, waitFor } from '@sluice/testing';

/**
 * The watcher's periodic rescan runs on @nestjs/schedule: on SIGTERM it is stopped before the watcher drains
 * its work, and no run starts after that (read from the watcher's own log, in order).
 */
describe('a scheduled job stops on SIGTERM', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'jobsstop', services: ['watcher'], env: { LOG_LEVEL: 'debug', RESCAN_INTERVAL_MS: '1000' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The watcher's log messages, in order. */
  const messages = (): string[] =>
    readFileSync(join(stack.logDir, 'watcher-0.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => String((JSON.parse(l) as { msg?: unknown }).msg));

  it('the rescan runs on its schedule until SIGTERM, then stops before the drain and never runs again', async () => {
    expect(messages()).toContain('job watcher.rescan: every 1000 ms');
    await waitFor('two scheduled rescans', async () => messages().filter((m) => m === 'job watcher.rescan: run').length >= 2, 60000);

    // A graceful exit (code 0), not the SIGKILL Stack sends a process that ignores SIGTERM.
    expect(await stack.kill('watcher', 0, 'SIGTERM')).toBe(0);

    const log = messages();
    const stopped = log.indexOf('job watcher.rescan: stopped');
    expect(stopped).toBeGreaterThan(log.lastIndexOf('job watcher.rescan: run'));
    expect(log.indexOf('job watcher.adopt-held: stopped')).toBeGreaterThan(-1);
    expect(log.indexOf('watcher stopped')).toBeGreaterThan(stopped);
  });
});
