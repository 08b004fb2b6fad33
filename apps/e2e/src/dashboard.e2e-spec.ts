import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { activityMismatches, FIXTURES, launchChromium, Stack, waitFor, WORKSPACE_ROOT, type Browser } from '@sluice/testing';

const ARTIFACTS = join(WORKSPACE_ROOT, 'test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'dashboard.png');
const GOOD = join(FIXTURES, 'sensors', 'split_3.csv');

interface DashboardWindow {
  sluiceDashboard: {
    activity: { fileId: string; status: string; originalName?: string; receivedAt: number }[];
    plots(): Record<string, { data: (number | null)[][] } | null>;
  };
  noReload?: number;
  inFlightSeen?: string[];
}

/** Each chart's legend as shown with nothing hovered: [label, value] per series, and its points' last values. */
function chartLegends(): Record<string, { legend: [string, string][]; last: (number | null)[] }> {
  const plots = (window as unknown as DashboardWindow).sluiceDashboard.plots();
  const out: Record<string, { legend: [string, string][]; last: (number | null)[] }> = {};
  for (const [name, id] of [['throughput', 'throughput-chart'], ['sensor', 'sensor-chart']]) {
    const rows = [...document.querySelectorAll(`#${id} .u-legend tr`)];
    const data = plots[name]?.data ?? [];
    out[name] = {
      legend: rows.map((tr) => [tr.querySelector('.u-label')?.textContent ?? '', tr.querySelector('.u-value')?.textContent ?? '']),
      last: data.map((d) => (d.length ? d[d.length - 1] : null)),
    };
  }
  return out;
}
const fmtN = (n: number) => Number(n).toLocaleString('en-US');

describe('dashboard in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  // The data contracts the services read: empty until the datasets test writes one in.
  const contracts = mkdtempSync(join(tmpdir(), 'sluice-dashboard-contracts-'));

  beforeAll(async () => {
    stack = await Stack.start({ label: 'dashboard', env: { CONTRACTS_DIR: contracts } });
    browser = await launchChromium({ width: 1400, height: 1100 });
    ({ context, page } = browser);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    rmSync(contracts, { recursive: true, force: true });
  });

  it('asks for a key when it has none', async () => {
    await page.goto(`${stack.url('query-api')}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isHidden()).toBe(true);
  });

  it('takes the key from the link into an HttpOnly cookie and drops it from the address bar', async () => {
    await page.goto(`${stack.url('query-api')}/?key=${encodeURIComponent(stack.queryKey)}`);
    expect(page.url()).toBe(`${stack.url('query-api')}/`);
    const cookies = await context.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'sluice_key', httpOnly: true, sameSite: 'Strict' })]);
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#live.on').waitFor({ timeout: 10000 });
    expect(await page.locator('#counts [data-status="processed"] .n').textContent()).toBe('0');
    // Nothing has happened yet, and the Activity panel says so rather than stay blank.
    await page.locator('#activity li', { hasText: 'no activity yet' }).waitFor({ timeout: 10000 });
    expect(await page.locator('#activity li').count()).toBe(1);
  });

  it('shows a dropped file go from in flight to done, live, without a reload', async () => {
    await page.evaluate(() => {
      const w = window as unknown as DashboardWindow;
      w.noReload = 42;
      w.inFlightSeen = [];
      const table = document.querySelector('#in-flight tbody') as Element;
      new MutationObserver(() => w.inFlightSeen?.push(table.textContent ?? '')).observe(table, { childList: true, subtree: true, characterData: true });
    });
    stack.drop('split_3.csv', (p) => copyFileSync(GOOD, p));

    await page.waitForFunction(
      () => (window as unknown as DashboardWindow).sluiceDashboard.activity.some((e) => e.originalName === 'split_3.csv' && e.status === 'processed'),
      undefined,
      { timeout: 60000 },
    );
    const seen = await page.evaluate(() => (window as unknown as DashboardWindow).sluiceDashboard.activity.filter((e) => e.originalName === 'split_3.csv').map((e) => e.status));
    expect(seen.indexOf('processing')).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf('processing')).toBeLessThan(seen.indexOf('processed'));
    await page.locator('#activity li[data-status="processing"]').first().waitFor();
    expect(await page.locator('#activity li', { hasText: 'no activity yet' }).count()).toBe(0);

    // The counts, the finished list and the sensor chart follow from the event.
    await page.waitForFunction(() => document.querySelector('#counts [data-status="processed"] .n')?.textContent === '1', undefined, { timeout: 10000 });
    await page.locator('#finished tbody tr', { hasText: 'split_3.csv' }).waitFor();
    await page.locator('#sensor-chart canvas').waitFor({ timeout: 10000 });
    expect(await page.locator('#sensor option').count()).toBeGreaterThan(1);
    const inFlight = await page.evaluate(() => (window as unknown as DashboardWindow).inFlightSeen ?? []);
    expect(inFlight.some((t) => t.includes('split_3.csv'))).toBe(true);
    expect(await page.evaluate(() => (window as unknown as DashboardWindow).noReload)).toBe(42);
  });

  it('shows a quarantined file with its reason as soon as it happens', async () => {
    stack.drop('empty.csv', (p) => writeFileSync(p, ''));
    const item = page.locator('#errors li', { hasText: 'empty.csv' });
    await item.waitFor({ timeout: 30000 });
    expect(await item.textContent()).toContain('empty_file');
    await page.waitForFunction(() => document.querySelector('#counts [data-status="quarantined"] .n')?.textContent === '1', undefined, { timeout: 10000 });
    expect(await page.evaluate(() => (window as unknown as DashboardWindow).noReload)).toBe(42);

    // With DROPZONE_DIR set, /stats counts the files in the drop folder itself, once the watcher has moved them.
    await waitFor('files moved', async () => {
      const res = await fetch(`${stack.url('query-api')}/stats`, { headers: { 'x-api-key': stack.queryKey } });
      const stats = (await res.json()) as { folders: { source: string; counts: Record<string, number> } };
      return stats.folders.source === 'dropzone' && stats.folders.counts['processed'] === 1 && stats.folders.counts['quarantine'] === 1 && stats.folders.counts['incoming'] === 0;
    }, 15000, 200);
  });

  it('draws hourly aggregates of the chosen sensor, then saves a screenshot', async () => {
    await page.selectOption('#series', 'hour');
    await page.waitForFunction(() => /hourly buckets/.test(document.querySelector('#sensor-note')?.textContent ?? ''), undefined, { timeout: 10000 });
    await page.locator('#sensor-chart canvas').waitFor();
    // Nothing hovered: the legend gives the latest bucket's mean, min and max, never uPlot's "--".
    const hourly = (await page.evaluate(chartLegends))['sensor'];
    expect(hourly.legend.map(([, value]) => value)).not.toContain('--');
    expect(hourly.legend.map(([label]) => label)).toEqual(['hour', 'mean', 'min', 'max']);
    expect(hourly.legend[0][1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(latest\)$/);
    expect(hourly.legend.slice(1).map(([, value]) => value)).toEqual(hourly.last.slice(1).map((v) => String(Number((v as number).toPrecision(6)))));
    await page.selectOption('#series', 'readings');
    await page.waitForFunction(() => /readings/.test(document.querySelector('#sensor-note')?.textContent ?? ''), undefined, { timeout: 10000 });
    mkdirSync(join(WORKSPACE_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('opened after the load: Activity lists the latest files the ledger knows before any live event', async () => {
    await page.reload();
    await page.locator('#live.on').waitFor({ timeout: 15000 });
    await page.locator('#activity li[data-file-id]').first().waitFor({ timeout: 10000 });
    const lines = await page.locator('#activity li[data-file-id]').allTextContents();
    expect(await page.evaluate(() => (window as unknown as DashboardWindow).sluiceDashboard.activity.length)).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/quarantined empty\.csv · empty_file: /), expect.stringMatching(/processed split_3\.csv · [\d,]+ records in /)]);
    expect(await page.locator('#activity li', { hasText: 'before this page opened' }).count()).toBe(1);
    // Each line is the file's status now, with the records the ledger counts.
    expect(await activityMismatches(stack, page)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('chart legends give the latest point with nothing hovered, never uPlot\'s "--"', async () => {
    await page.locator('#sensor-chart canvas').waitFor({ timeout: 10000 });
    await page.waitForFunction(() => /readings/.test(document.querySelector('#sensor-note')?.textContent ?? ''), undefined, { timeout: 10000 });
    const legends = await page.evaluate(chartLegends);
    expect(JSON.stringify(legends)).not.toContain('--');
    const { throughput, sensor } = legends;
    expect(throughput.legend.map(([label]) => label)).toEqual(['time', 'records/s']);
    expect(throughput.legend[0][1]).toMatch(/^\d\d:\d\d:\d\d \(latest\)$/);
    expect(throughput.legend[1][1]).toBe(fmtN(throughput.last[1] as number));
    expect(sensor.legend[0][1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(latest\)$/);
    expect(sensor.legend[1][1]).toBe(String(Number((sensor.last[1] as number).toPrecision(6))));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-reopened.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows in its Storage card what the loaded readings take on disk and the oldest of them', async () => {
    const row = page.locator('#storage tbody tr[data-table="raw_sensor_data"]');
    await row.waitFor({ timeout: 10000 });
    const [{ bytes, partitions, oldest }] = await stack.query<{ bytes: string; partitions: number; oldest: string }>(
      // raw_sensor_data is range-partitioned: its size is that of its partitions, each with its indexes.
      `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'raw_sensor_data'::regclass) AS bytes,
              (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'raw_sensor_data'::regclass) AS partitions,
              to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS oldest FROM raw_sensor_data`,
    );
    // Reload: the card shows the sizes of the /stats the page took, and the load is over.
    await page.reload();
    await row.waitFor({ timeout: 10000 });
    const shown = await row.locator('td').allTextContents();
    const [value, unit] = shown[1].split(' ');
    const scale: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
    expect(Math.abs(Number(value) * scale[unit] - Number(bytes ?? 0))).toBeLessThanOrEqual(Number(bytes ?? 0) * 0.01);
    expect(partitions).toBeGreaterThanOrEqual(2);
    expect(shown[2]).toBe(String(partitions));
    expect(await page.locator('#storage-facts dd[data-fact="oldest_reading"]').textContent()).toBe(oldest);
    await page.locator('#storage-card').screenshot({ path: join(ARTIFACTS, 'dashboard-storage-after-load.png') });
    expect(pageErrors).toEqual([]);
  });

  it('lists the data contracts in force in its Datasets card, and a contract file refused with its reason', async () => {
    copyFileSync(join(WORKSPACE_ROOT, 'examples', 'contracts', 'weather.yaml'), join(contracts, 'weather.yaml'));
    writeFileSync(join(contracts, 'broken.yaml'), 'inputs: [not, a, mapping]\n');
    const row = page.locator('#datasets tbody tr[data-dataset="weather"]');
    // The services read the folder every 2 s; the page reads /datasets when it opens.
    await waitFor(
      'the weather contract on the dashboard',
      async () => {
        await page.reload();
        await page.locator('#datasets tbody tr').first().waitFor({ timeout: 5000 });
        return (await row.count()) > 0;
      },
      20000,
      1000,
    );
    expect(await row.locator('td').allTextContents()).toEqual(['weather', 'datasets.weather', '0 (no table yet)', '0', 'never']);
    expect(await page.locator('#contract-problems li[data-file="broken.yaml"]').first().textContent()).toContain('broken.yaml:1 inputs: inputs must be a mapping');
    await page.locator('#datasets-card').screenshot({ path: join(ARTIFACTS, 'dashboard-datasets.png') });
    expect(pageErrors).toEqual([]);
  });

  it('never writes the key to the service log', async () => {
    const logs = readdirSync(stack.logDir).filter((f) => f.startsWith('query-api'));
    const text = logs.map((f) => readFileSync(join(stack.logDir, f), 'utf8')).join('\n');
    expect(text).toContain('key=[redacted]');
    expect(text).not.toContain(stack.queryKey);
  });
});
