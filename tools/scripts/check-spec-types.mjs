#!/usr/bin/env node
// Type-checks every project's specs (tsconfig.spec.json). Jest compiles them with swc, which strips types
// without checking them, so a spec could drift from the code it tests and still run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
// A project's tsconfig.spec.json; the e2e app, all specs, has only its tsconfig.json.
const configs = ['apps', 'libs'].flatMap((group) =>
  readdirSync(join(root, group)).flatMap((name) => {
    const project = join(group, name);
    if (existsSync(join(root, project, 'tsconfig.spec.json'))) return [join(project, 'tsconfig.spec.json')];
    const hasSpecs = existsSync(join(root, project, 'src')) && readdirSync(join(root, project, 'src'), { recursive: true }).some((f) => String(f).endsWith('spec.ts'));
    return hasSpecs ? [join(project, 'tsconfig.json')] : [];
  }),
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
