import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { activityMismatches, dashboardTruth, FIXTURES, launchChromium, seedLikeCsv, Stack, waitFor, WORKSPACE_ROOT, type Browser } from '@sluice/testing';

/**
 * Every page a person opens, in Chromium: the key form, the dashboard (empty, during a load, after a mixed
 * load with duplicates, a quarantine and replays) at 1400 and 800 px, and both APIs' /docs. Each page is
 * checked for console errors and saved under test-artifacts/. The dashboard's figures are compared with the
 * SQL they summarise.
 */
const ARTIFACTS = join(WORKSPACE_ROOT, 'test-artifacts');
/** Bad lines (file line numbers) of the generated seed-like files: several files have some, one has none. */
const GENERATED_BAD_LINES = [[12, 400, 1201], [5], [], [77, 78], [1500]];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface Plot {
  axes: { _splits?: number[]; _values?: (string | number | null)[]; _size?: number; side?: number; font?: string | [string, number]; gap?: number; ticks?: { size?: number } }[];
  valToPos(v: number, scale: string): number;
  width: number;
}
interface DashboardWindow {
  sluiceDashboard: { plots(): Record<string, Plot | null> };
}

/**
 * Labels a chart draws that do not fit: a y label wider than its axis, or two x labels that overlap.
 * Runs in the page (uPlot draws on a canvas, so the labels are measured as it draws them).
 */
function unreadableLabels(): string[] {
  const problems: string[] = [];
  const ctx = document.createElement('canvas').getContext('2d') as CanvasRenderingContext2D;
  const plots = (window as unknown as DashboardWindow).sluiceDashboard.plots();
  for (const [name, u] of Object.entries(plots)) {
    if (!u) continue;
    u.axes.forEach((ax, i) => {
      ctx.font = Array.isArray(ax.font) ? ax.font[0] : (ax.font ?? '12px sans-serif');
      const labels = (ax._values ?? []).map((v) => (v === null ? '' : String(v)));
      const widths = labels.map((l) => Math.max(0, ...l.split('\n').map((line) => ctx.measureText(line).width)));
      if (i === 0) {
        const pos = (ax._splits ?? []).map((v) => u.valToPos(v, 'x'));
        for (let j = 1; j < pos.length; j++) {
          if (labels[j] && labels[j - 1] && pos[j] - pos[j - 1] < (widths[j] + widths[j - 1]) / 2 + 4) problems.push(`${name}: x labels "${labels[j - 1]}" and "${labels[j]}" overlap`);
        }
      } else {
        const room = (ax._size ?? 0) - (ax.gap ?? 0) - (ax.ticks?.size ?? 0);
        widths.forEach((w, j) => {
          if (w > room) problems.push(`${name}: y label "${labels[j]}" is ${Math.round(w)} px in an axis of ${Math.round(room)} px`);
        });
      }
    });
  }
  return problems;
}

describe('every page a person opens, in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  const ingest = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.url('ingest-api')}${path}`, { ...init, headers: { 'x-api-key': stack.ingestKey, ...(init.headers as Record<string, string>) } });
  const shot = async (name: string) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const textOf = async (selector: string) => (await page.locator(selector).allTextContents()).join('\n');

  /** Every figure on the dashboard and every figure of /stats, against the SQL over the tables it summarises. */
  async function expectFiguresMatchSql(): Promise<void> {
    const truth = await dashboardTruth(stack, page);
    expect(truth.page.shown).toEqual(truth.page.sql);
    expect(truth.stats.answered).toEqual(truth.stats.sql);
  }

  /** What a person reads names files; an id stays in attributes. */
  async function expectNamesNotIds(): Promise<void> {
    for (const list of ['#in-flight tbody', '#finished tbody', '#errors', '#activity']) {
      const text = await textOf(list);
      expect({ list, id: UUID.exec(text)?.[0] ?? null }).toEqual({ list, id: null });
    }
  }

  beforeAll(async () => {
    // No rescan after the one at start within this suite's time: a file must leave processing/ on its outcome event.
    stack = await Stack.start({ label: 'pages', services: ['watcher', 'processor', 'query-api', 'ingest-api'], env: { RESCAN_INTERVAL_MS: '3600000' } });
    browser = await launchChromium({ width: 1400, height: 1000 });
    page = browser.page;
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`${r.url()}: HTTP ${r.status()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  afterEach(() => {
    // Each page is clean: no script error, no failed request (a missing favicon included).
    expect(consoleErrors.splice(0)).toEqual([]);
  });

  for (const api of ['query-api', 'ingest-api'] as const) {
    it(`${api} /docs renders its operations`, async () => {
      await page.goto(`${stack.url(api)}/docs`);
      await page.locator('.opblock').first().waitFor({ state: 'visible', timeout: 30000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThan(3);
      await page.waitForLoadState('networkidle');
      await shot(`docs-${api}`);
    });
  }

  it('the key form: shown without a key, and again (with a message) for a refused key', async () => {
    await page.goto(`${stack.url('query-api')}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isHidden()).toBe(true);
    await page.waitForLoadState('networkidle');
    await shot('key-form');
    // The form posts the key; a wrong one brings the form back with a reason. (The 401s of the page's own
    // probe for data without a key are expected here.)
    await page.fill('#login input[name="key"]', 'not-a-key');
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => /not accepted/.test(document.querySelector('#login-message')?.textContent ?? ''));
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !/HTTP 401|status of 401/.test(e)));
  });

  it('the empty dashboard: every figure 0, nothing in flight; /favicon.ico is served', async () => {
    await page.goto(`${stack.url('query-api')}/?key=${encodeURIComponent(stack.queryKey)}`);
    await page.locator('#live.on').waitFor({ timeout: 15000 });
    await page.waitForLoadState('networkidle');
    await expectFiguresMatchSql();
    expect(await textOf('#in-flight tbody')).toBe('nothing in flight');
    const icon = await fetch(`${stack.url('query-api')}/favicon.ico`);
    expect(icon.status).toBe(200);
    await shot('dashboard-empty');
  });

  it('during a load: files in flight are counted as listed, by name, REST payloads included', async () => {
    // No processor: what arrives stays queued, so the page shows a load in progress for as long as we look.
    await stack.kill('processor');
    stack.drop('split_2.csv', (p) => copyFileSync(join(FIXTURES, 'sensors', 'split_2.csv'), p));
    stack.drop('split_2-again.csv', (p) => copyFileSync(join(FIXTURES, 'sensors', 'split_2.csv'), p));
    stack.drop('empty.csv', (p) => writeFileSync(p, ''));
    for (const [body, type] of [
      [readFileSync(join(FIXTURES, 'json', 'payload.json')), 'application/json'],
      [readFileSync(join(FIXTURES, 'json', 'lines.ndjson')), 'application/x-ndjson'],
    ] as const) {
      expect((await ingest('/ingest', { method: 'POST', body, headers: { 'content-type': type } })).status).toBe(202);
    }
    await waitFor('every arrival in the ledger', async () => (await stack.count('ingest_files')) === 5, 30000, 200);
    await page.waitForFunction(() => document.querySelectorAll('#in-flight tbody tr[data-file-id]').length >= 4, undefined, { timeout: 20000 });
    await expectFiguresMatchSql();
    await expectNamesNotIds();
    // One of the two copies of split_2.csv is queued, the other recorded as its duplicate (whichever came second).
    expect(await textOf('#in-flight tbody')).toMatch(/split_2(-again)?\.csv/);
    expect(await textOf('#in-flight tbody')).toContain('REST JSON payload');
    await shot('dashboard-during-load');
  });

  it('after a mixed load with duplicates, rejected lines, a quarantine and replays: every figure equals the SQL; replayed files leave processing/ on their outcome', async () => {
    await stack.restart('processor');
    await stack.waitForTerminal(await stack.count('ingest_files'));

    // The seed files' shape: wide CSVs of the repository and generated ones with bad lines, a file and a
    // REST payload sent twice under other names, and a CSV uploaded through the ingest-api.
    const devices = ['b8:27:eb:bf:9d:51', '00:0f:00:70:91:0a', '1c:bf:ce:15:ec:4d'];
    const generated = GENERATED_BAD_LINES.map((badLines, i) => ({ name: `split_${101 + i}.csv`, body: seedLikeCsv({ lines: 1500, devices, startEpoch: 1.6e9 + i * 1e5, badLines }) }));
    for (const name of ['split_3.csv', 'split_15.csv']) stack.drop(name, (p) => copyFileSync(join(FIXTURES, 'sensors', name), p));
    for (const g of generated) stack.drop(g.name, (p) => writeFileSync(p, g.body));
    stack.drop('split_101 (copy).csv', (p) => writeFileSync(p, generated[0].body));
    stack.drop('split_15-again.csv', (p) => copyFileSync(join(FIXTURES, 'sensors', 'split_15.csv'), p));
    const upload = new FormData();
    upload.append('file', new Blob([seedLikeCsv({ lines: 900, devices, startEpoch: 1.7e9, badLines: [7] })]), 'uploaded.csv');
    expect((await ingest('/ingest/files', { method: 'POST', body: upload })).status).toBe(202);
    expect((await ingest('/ingest', { method: 'POST', body: readFileSync(join(FIXTURES, 'json', 'payload.json')), headers: { 'content-type': 'application/json' } })).status).toBe(202);
    const arrived = 5 + 2 + generated.length + 2 + 2;
    await waitFor('every arrival in the ledger', async () => (await stack.count('ingest_files')) === arrived, 60000, 200);
    const before = await stack.waitForTerminal(arrived, 300000);
    expect(before['duplicate']).toBe(4);
    // Every bad line is a rejected record with its reason, none more.
    const [rejected] = await stack.query<{ n: string }>(`SELECT count(*)::text AS n FROM ingest_errors e JOIN ingest_files f ON f.id = e.file_id WHERE f.original_name ~ '^(split_1[0-9][0-9]|uploaded)'`);
    expect(Number(rejected.n)).toBe(GENERATED_BAD_LINES.flat().length + 1);

    // Replay two processed files (one with rejected lines) and the quarantined one through the ingest-api, as a person would.
    const replayed = await stack.query<{ id: string }>(`SELECT id::text AS id FROM ingest_files WHERE original_name IN ('split_3.csv', 'split_102.csv', 'empty.csv') ORDER BY original_name`);
    expect(replayed).toHaveLength(3);
    for (const { id } of replayed) expect((await ingest(`/files/${id}/replay`, { method: 'POST' })).status).toBe(202);
    await waitFor('replays finished', async () => {
      const rows = await stack.query<{ status: string; replays: number }>(`SELECT status, replays FROM ingest_files WHERE id = ANY($1::uuid[])`, [replayed.map((r) => r.id)]);
      return rows.every((r) => r.replays === 1 && ['processed', 'quarantined'].includes(r.status));
    }, 120000, 200);
    // The watcher moves them on their outcome event: the next rescan is an hour away.
    await waitFor('processing/ empty', async () => readdirSync(join(stack.dropzone, 'processing')).filter((f) => !f.startsWith('.')).length === 0, 120000, 200);

    // "took" for a replayed file counts from its replay, as the ledger has it.
    const [took] = await stack.query<{ ms: number }>(
      `SELECT round(extract(epoch FROM finished_at - queued_at) * 1000)::float8 AS ms FROM ingest_files WHERE original_name = 'split_3.csv'`,
    );
    const trace = (await (await fetch(`${stack.url('query-api')}/trace`, { headers: { 'x-api-key': stack.queryKey } })).json()) as { finished: { original_name: string; total_ms: number }[] };
    expect(trace.finished.find((f) => f.original_name === 'split_3.csv')?.total_ms).toBe(took.ms);

    // The page has been open through all of it: figures, lists and the live feed as they stand now. (Its
    // "readings written" is the ledger's sum of raw_sensor_data rows and the REST measurement's card its sum of
    // measurements; the SQL counts each table itself, so a replay counted twice, or a row counted under another
    // table's name, shows.)
    await expectFiguresMatchSql();
    await waitFor('the activity feed to match the ledger', async () => (await activityMismatches(stack, page)).length === 0, 20000, 250).catch(() => undefined);
    expect(await activityMismatches(stack, page)).toEqual([]);
    await shot('dashboard-after-load-live');

    // And as a newcomer opens it afterwards (the sensor picker and chart drawn from scratch).
    await page.reload();
    await page.locator('#live.on').waitFor({ timeout: 15000 });
    await page.locator('#sensor-chart canvas').waitFor({ timeout: 20000 });
    await page.waitForFunction(() => /readings/.test(document.querySelector('#sensor-note')?.textContent ?? ''), undefined, { timeout: 20000 });
    await page.waitForLoadState('networkidle');
    await expectFiguresMatchSql();
    await expectNamesNotIds();
    expect(await textOf('#finished tbody')).toMatch(/rejected/);
    expect(await page.evaluate(unreadableLabels)).toEqual([]);
    await shot('dashboard-after-load-1400');
  }, 600000);

  it('stays readable at 800 px wide', async () => {
    await page.setViewportSize({ width: 800, height: 1000 });
    await page.waitForFunction(() => {
      const c = document.querySelector('#throughput-chart canvas');
      return c !== null && c.getBoundingClientRect().right <= document.documentElement.clientWidth;
    }, undefined, { timeout: 10000 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    expect(await page.evaluate(unreadableLabels)).toEqual([]);
    await shot('dashboard-after-load-800');
  });
});
