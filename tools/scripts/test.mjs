#!/usr/bin/env node
// `npm test`: every project's tests (unit, integration, end-to-end), one project at a time because the
// integration and end-to-end suites share this machine's two cores, PostgreSQL and NATS.
// Extra arguments go to nx (e.g. `npm test -- --projects=loading`).
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false', ...process.env };
const extra = process.argv.slice(2);
const nxArgs = ['run-many', '-t', 'test', '--parallel=1', '--outputStyle=stream', ...(extra.length ? extra : [])];
const child = spawn(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), ...nxArgs], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });

// Jest prints "Tests: 1 failed, 2 skipped, 12 passed, 15 total" per project; add them up.
let passed = 0;
let failed = 0;
let skipped = 0;
const tally = (buf, out) => {
  out.write(buf);
  for (const line of buf.toString().replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
    const m = /Tests:\s+(.*) total/.exec(line);
    if (!m) continue;
    for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (what === 'passed') passed += Number(n);
      else if (what === 'failed') failed += Number(n);
      else skipped += Number(n);
    }
  }
};
child.stdout.on('data', (b) => tally(b, process.stdout));
child.stderr.on('data', (b) => tally(b, process.stderr));
child.on('exit', (code) => {
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(code ?? 1);
});
