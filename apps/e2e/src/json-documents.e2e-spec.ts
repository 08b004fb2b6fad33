import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, writeFleetDocument } from '@sluice/testing';

describe('a single JSON document is loaded while it streams', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'jsondoc', services: ['watcher', 'processor'] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('loads a vehicle_status document larger than the former 32 MiB limit completely', async () => {
    const staging = mkdtempSync(join(stack.dropzone, '..', 'staging-'));
    try {
      const path = join(staging, 'fleet.json');
      // Wide indentation makes the document large with fewer items (the database is shared and busy).
      const items = await writeFleetDocument(path, { bytes: 40 * 1024 ** 2, vehicles: 1000, indent: 1000 });
      expect(statSync(path).size).toBeGreaterThan(32 * 1024 ** 2);
      renameSync(path, join(stack.dropzone, 'incoming', 'fleet.json'));

      expect(await stack.waitForTerminal(1, 1_100_000)).toEqual({ processed: 1 });
      const [ledger] = await stack.query<{ kind: string; rows_total: string; rows_loaded: string; rows_rejected: string }>(`SELECT kind, rows_total, rows_loaded, rows_rejected FROM ingest_files`);
      expect(ledger).toEqual({ kind: 'vehicle_status', rows_total: String(items), rows_loaded: String(items), rows_rejected: '0' });
      // One row per vehicle, holding its newest report: the last 1000 items of the document.
      const [table] = await stack.query<{ n: number; newest: Date; oldest: Date }>(`SELECT count(*)::int AS n, max(report_time) AS newest, min(report_time) AS oldest FROM vehicles_status`);
      const at = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 250);
      expect(table).toEqual({ n: 1000, newest: at(items - 1), oldest: at(items - 1000) });
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }, 1_200_000);
});
