#!/usr/bin/env node
// `npx sluice …` from the repository: runs the CLI's TypeScript through swc with the @sluice/* aliases.
// In a container use the bundle instead: `node dist/apps/cli/main.js …` (nx build cli).
require('../../../tools/scripts/register.cjs');
require('../src/main.ts');
