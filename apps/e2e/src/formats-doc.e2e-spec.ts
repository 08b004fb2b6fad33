import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, WORKSPACE_ROOT } from '@sluice/testing';
import { EXAMPLE_KINDS, formatExamples } from './support/formats-examples';

describe('docs/formats.md: every example is a file that loads whole', () => {
  let stack: Stack;
  const files = formatExamples(readFileSync(join(WORKSPACE_ROOT, 'docs/formats.md'), 'utf8'));

  beforeAll(async () => {
    stack = await Stack.start({ label: 'formatsdoc', services: ['watcher', 'processor'] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('has an example of every built-in kind', () => {
    expect(files.map((f) => f.name)).toEqual(Object.keys(EXAMPLE_KINDS));
  });

  it('loads each example with no row error, as the kind the table names', async () => {
    for (const f of files) stack.drop(f.name, (path) => writeFileSync(path, f.content));
    expect(await stack.waitForTerminal(files.length, 180000)).toEqual({ processed: files.length });
    const rows = await stack.query<{ name: string; kind: string; rows_total: string; rows_rejected: string }>(
      'SELECT original_name AS name, kind, rows_total::text, rows_rejected::text FROM ingest_files ORDER BY original_name',
    );
    expect(Object.fromEntries(rows.map((r) => [r.name, r.kind]))).toEqual(EXAMPLE_KINDS);
    for (const r of rows) expect({ name: r.name, rejected: r.rows_rejected, some: Number(r.rows_total) > 0 }).toEqual({ name: r.name, rejected: '0', some: true });
    // The wide example's quoted epoch-seconds line and its unquoted ISO-8601 line: 2 lines × 4 metrics.
    expect((await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name LIKE '%:%/%'`))[0].n).toBe(8);
    // The long example's decimal comma.
    expect((await stack.query<{ v: number }>(`SELECT r.value AS v FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = 'sensor_00001' ORDER BY r.ts DESC LIMIT 1`))[0].v).toBe(21.5);
  });
});
