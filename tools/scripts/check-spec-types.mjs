#!/usr/bin/env node
// Type-checks every project's specs (tsconfig.spec.json). Jest compiles them with swc, which strips types
// without checking them, so a spec could drift from the code it tests and still run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const configs = ['apps', 'libs'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((name) => join(group, name, 'tsconfig.spec.json'))
    .filter((config) => existsSync(join(root, config))),
);
let failed = 0;
for (const config of configs) {
  const r = spawnSync(process.execPath, [tsc, '-p', config, '--noEmit'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed) {
  process.stderr.write(`${failed} of ${configs.length} projects' specs do not type-check (above)\n`);
  process.exit(1);
}
process.stdout.write(`the specs of ${configs.length} projects type-check\n`);
