import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { launchChromium, WORKSPACE_ROOT, type Browser } from '@sluice/testing';
import { type Json, type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';

jest.setTimeout(90_000);

const KEY = 'qk-dash-storage';
const FILE = '72000000-0000-4000-8000-000000000001';
const ARTIFACTS = join(WORKSPACE_ROOT, 'test-artifacts');

/**
 * Readings in raw_sensor_data as the migrations make it (range partitions by month and a default), with the
 * partitions of January to March 2025 made as the maintenance job names them (later readings land in the default
 * partition), and two maintenance runs: the latest failed, its error a long word of partition names run together.
 */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (let m = 1; m <= 3; m++) {
      await c.query(`CREATE TABLE raw_sensor_data_p20250${m}01 PARTITION OF raw_sensor_data FOR VALUES FROM ('2025-0${m}-01T00:00:00Z') TO ('2025-0${m + 1}-01T00:00:00Z')`);
    }
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded, rows_written, rows_written_by_table)
       VALUES ($1, 'dropzone', 'r.csv', 'processed/r.csv', repeat('a', 64), 10, 'sensor_wide_csv', 'processed', 30000, 30000, 30000, '{"raw_sensor_data": 30000}')`,
      [FILE],
    );
    await c.query(`INSERT INTO sensors (id, name) SELECT n, 'dash/sensor-' || n FROM generate_series(1, 10) n`);
    await c.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT 1 + n % 10, '2025-01-03T00:00:00Z'::timestamptz + make_interval(mins => n * 7), n % 100, $1::uuid FROM generate_series(0, 29999) n`,
      [FILE],
    );
    await c.query('ANALYZE raw_sensor_data');
    await c.query(
      `INSERT INTO maintenance_runs (started_at, finished_at, dry_run, trigger, bytes_reclaimed, report, error)
       VALUES ('2026-01-05T09:00:00Z', '2026-01-05T09:00:03Z', false, 'schedule', 734003200, '{}', NULL),
              ('2026-01-05T10:00:00Z', '2026-01-05T10:00:01Z', false, 'schedule', 0, '{}', 'could not drop raw_sensor_data_p20241201,raw_sensor_data_p20250101,raw_sensor_data_p20250201: canceling statement due to lock timeout')`,
    );
  } finally {
    await c.end();
  }
}

describe('dashboard storage card in a real browser', () => {
  let api: QueryApiHarness;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    api = await startQueryApi('dash_storage', KEY, seed, { RAW_RETENTION: '90d', LOG_RETENTION: '30d', PAYLOAD_RETENTION: '7d', MAINTENANCE_CRON: '15 3 * * *' });
    browser = await launchChromium({ width: 1400, height: 1000 });
    browser.page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('shows each table on disk as /stats reports it, the oldest reading, retention and the maintenance runs; saves a screenshot', async () => {
    const { page } = browser;
    await page.goto(`${api.base}/?key=${encodeURIComponent(KEY)}`);
    await page.locator('#storage tbody tr[data-table="raw_sensor_data"]').waitFor({ timeout: 15000 });
    const stats = (await api.call('/stats?series=false')).body['storage'] as Json;

    const rows = await page.locator('#storage tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual((stats['tables'] as Json[]).map((t) => t['table']));
    const raw = rows[0];
    const rawStats = (stats['tables'] as Json[])[0];
    expect(raw[1]).toMatch(/^[\d.]+ (KiB|MiB)$/);
    // 1 KiB = 1024 bytes: the figure shown is the bytes of /stats, rounded.
    const [value, unit] = (raw[1] as string).split(' ');
    expect(Math.abs(Number(value) * (unit === 'MiB' ? 1024 ** 2 : 1024) - rawStats['bytes'])).toBeLessThan(rawStats['bytes'] * 0.01);
    // Partitions as the catalog has them: leaves of the three time-partitioned tables, none (–) for the others.
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    const { rows: partitions } = await c.query<{ t: string; n: number }>(
      `SELECT t, (SELECT count(*)::int FROM pg_inherits WHERE inhparent = to_regclass(t)) AS n FROM unnest($1::text[]) WITH ORDINALITY u(t, o) ORDER BY o`,
      [rows.map((r) => r[0])],
    );
    await c.end();
    expect(rows.map((r) => [r[0], r[2]])).toEqual(partitions.map((p) => [p.t, p.n === 0 ? '–' : p.n.toLocaleString('en-US')]));
    expect(partitions.filter((p) => p.n > 0).map((p) => p.t)).toEqual(['raw_sensor_data', 'detection_events', 'log_lines']);
    // The migration's months and default, and the three months made here.
    expect(Number(raw[2])).toBe(partitions.find((p) => p.t === 'log_lines')!.n + 3);
    expect(raw[3]).toBe('30,000');

    const fact = async (key: string) => page.locator(`#storage-facts dd[data-fact="${key}"]`).textContent();
    expect(await fact('oldest_reading')).toBe('2025-01-03 00:00:00 UTC');
    expect(await fact('retention')).toBe(
      'raw readings 90d · hourly aggregates kept · daily aggregates kept · log lines 30d · processed files kept · quarantined files kept · stored bodies 7d · ledger rows kept',
    );
    expect(await fact('last_run')).toBe('2026-01-05 10:00:01 UTC (schedule) · failed: could not drop raw_sensor_data_p20241201,raw_sensor_data_p20250101,raw_sensor_data_p20250201: canceling statement due to lock timeout');
    expect(await page.locator('#storage-facts dd[data-fact="last_run"]').getAttribute('class')).toBe('bad');
    expect(await fact('next_run')).toMatch(/^\d{4}-\d\d-\d\d 03:15:00 UTC \(15 3 \* \* \*\)$/);
    expect(await page.locator('#storage-total').textContent()).toMatch(/^[\d.]+ (KiB|MiB|GiB) on disk · partitions by month$/);

    // Read at 1400 px: nothing in the card is cut off or runs past its column.
    const clipped = await page.locator('#storage-card td, #storage-card dd').evaluateAll((cells) => cells.filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent));
    expect(clipped).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-storage.png'), fullPage: true });
    await page.locator('#storage-card').screenshot({ path: join(ARTIFACTS, 'dashboard-storage-card.png') });
    expect(pageErrors).toEqual([]);
  });

  // A long word (the failed run's partition names) wraps within its fact instead of widening the card past the page.
  it('stays readable at 800 px: one column, no sideways scrolling', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 800, height: 1000 });
    const fits = () => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return root.scrollWidth <= root.clientWidth;
    };
    // The page lays itself out again after the resize (its chart redraws on the resize event): give it the time a busy machine takes.
    const settled = await page.waitForFunction(fits, undefined, { timeout: 10_000 }).then(() => true, () => false);
    await page.locator('#storage-card').screenshot({ path: join(ARTIFACTS, 'dashboard-storage-card-800.png') });
    expect(settled).toBe(true);
    const [table, facts] = await Promise.all([page.locator('#storage').boundingBox(), page.locator('#storage-facts').boundingBox()]);
    expect(facts!.y).toBeGreaterThanOrEqual(table!.y + table!.height);
    expect(pageErrors).toEqual([]);
  });
});
