#!/usr/bin/env node
// Every spec runs in a tier: a project with `*.spec.ts` needs jest.config.cjs (the `test` target), one with
// `*.int-spec.ts` needs jest.integration.config.cjs (`integration`). Without them Nx has no target, and the
// specs would silently never run.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const specsIn = (dir, suffix) =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).some((e) => e.isFile() && e.name.endsWith(suffix) && !(suffix === '.spec.ts' && e.name.endsWith('.int-spec.ts')));

const missing = [];
for (const group of ['apps', 'libs']) {
  for (const name of readdirSync(join(root, group))) {
    const project = join(group, name);
    const src = join(root, project, 'src');
    if (!existsSync(src)) continue;
    if (specsIn(src, '.spec.ts') && !existsSync(join(root, project, 'jest.config.cjs'))) missing.push(`${project}: has *.spec.ts but no jest.config.cjs`);
    if (specsIn(src, '.int-spec.ts') && !existsSync(join(root, project, 'jest.integration.config.cjs'))) missing.push(`${project}: has *.int-spec.ts but no jest.integration.config.cjs`);
  }
}
if (missing.length) {
  process.stderr.write(`Specs that no tier runs:\n${missing.map((m) => `  ${m}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('every spec has a tier\n');
