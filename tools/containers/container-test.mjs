#!/usr/bin/env node
// `npm run test:containers [-- --seeds DIR] [-- --keep]`: runs container-test.ts through swc. Needs a Docker
// engine with docker compose or docker-compose (../shared/tools/container-runtime.sh makes one on this machine).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const r = spawnSync(process.execPath, ['-r', join(root, 'tools/scripts/register.cjs'), join(root, 'tools/containers/container-test.ts'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
