#!/usr/bin/env node
// `npm run bench [-- --seeds DIR] [-- --skip-large] [-- --only query,e2e]`: builds the services, then runs bench.ts through swc.
// `npm run bench -- --compare REF [--rounds N] [--only …]`: this checkout against REF, interleaved (compare.mjs).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
if (argv.includes('--compare')) {
  const { compare } = await import('./compare.mjs');
  try {
    compare(root, argv);
    process.exit(0);
  } catch (e) {
    process.stderr.write(`bench --compare failed: ${e.message}\n`);
    process.exit(1);
  }
}
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const build = spawnSync(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), 'run-many', '-t', 'build', '--projects=watcher,processor,ingest-api,query-api', '--outputStyle=static'], { cwd: root, env, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const r = spawnSync(process.execPath, ['--expose-gc', '-r', join(root, 'tools/scripts/register.cjs'), join(root, 'tools/bench/bench.ts'), ...argv], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
