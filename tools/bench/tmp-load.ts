import { mkdtempSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { generateLongFormat, Stack } from '@sluice/testing';
(async () => {
  const stack = await Stack.start({ label: 'qload', services: ['watcher', 'processor'], processors: 2, env: { LOG_LEVEL: 'warn', PROCESSOR_CONCURRENCY: '1' } });
  const data = mkdtempSync(join(stack.dropzone, '..', 'query-data-'));
  generateLongFormat(data, { sensors: 50, rows: 10_000_000, files: 40, bad: 0 });
  const parts = readdirSync(join(data, 'timeseries'));
  for (const f of parts) renameSync(join(data, 'timeseries', f), join(stack.dropzone, 'incoming', f));
  await stack.waitForTerminal(parts.length, 3_600_000);
  renameSync(join(data, 'mapping', 'mapping.csv'), join(stack.dropzone, 'incoming', 'mapping.csv'));
  await stack.waitForTerminal(parts.length + 1, 600_000);
  await stack.query('VACUUM (ANALYZE) raw_sensor_data');
  console.log('DB', stack.db.url);
  await stack.kill('watcher'); await stack.kill('processor', 0); await stack.kill('processor', 1);
  process.exit(0);
})();
