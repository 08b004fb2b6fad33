#!/usr/bin/env node
// `npm test`: every project's tests (the Nx targets test, integration and e2e), one project at a time because
// the integration and end-to-end suites share this machine's two cores, PostgreSQL and NATS.
// `--tier unit|integration|e2e` runs one of them (npm run test:unit, …). Other arguments go to nx
// (e.g. `npm test -- --projects=loading`).
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false', ...process.env };
const TIERS = { unit: 'test', integration: 'integration', e2e: 'e2e' };
const extra = process.argv.slice(2);
const tierAt = extra.indexOf('--tier');
const tier = tierAt < 0 ? undefined : extra.splice(tierAt, 2)[1];
if (tier !== undefined && !TIERS[tier]) {
  process.stderr.write(`--tier must be one of ${Object.keys(TIERS).join(', ')}\n`);
  process.exit(2);
}
// One tier after the other, fastest first, so that a broken unit test shows before the slow suites run.
const targets = tier ? [TIERS[tier]] : Object.values(TIERS);

// Jest prints "Tests: 1 failed, 2 skipped, 12 passed, 15 total" per project; add them up. Each failure
// ("● suite › test" and the lines under it) is also kept, and printed again at the end, where a reader
// of a long log looks first.
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
let capturing = 0;
const FAILURE_LINES = 30;
const tally = (line) => {
  line = line.replace(/\x1b\[[0-9;]*m/g, '');
  if (/● (?!Console)\S.* › /.test(line)) {
    // Jest repeats a failure in its summary: keep the first.
    capturing = failures.some((f) => f[0] === line) ? 0 : FAILURE_LINES;
    if (capturing) failures.push([]);
  }
  if (capturing > 0) {
    failures.at(-1).push(line);
    capturing--;
  }
  const m = /Tests:\s+(.*) total/.exec(line);
  if (!m) return;
  for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (what === 'passed') passed += Number(n);
    else if (what === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
};
const runTarget = (target) =>
  new Promise((done) => {
    const nxArgs = ['run-many', '-t', target, '--parallel=1', '--outputStyle=stream', ...extra];
    const child = spawn(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), ...nxArgs], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      from.on('data', (b) => to.write(b));
      createInterface({ input: from, crlfDelay: Infinity }).on('line', tally);
    }
    child.on('close', (code) => done(code ?? 1));
  });
let exitCode = 0;
for (const target of targets) {
  const code = await runTarget(target);
  if (exitCode === 0) exitCode = code;
}
if (failures.length) process.stdout.write(`\nFailed tests:\n${failures.map((f) => f.join('\n')).join('\n\n')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(exitCode);
