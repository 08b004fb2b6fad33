import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, launchChromium, Stack, waitFor, WORKSPACE_ROOT, type Browser } from '@sluice/testing';

// Response bodies are checked field by field below; `any` keeps those checks short.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const INPUT_LOG = join(FIXTURES, 'logs', 'input.log');
const SCREENSHOT = join(WORKSPACE_ROOT, 'test-artifacts', 'dashboard-logs.png');

describe('plain-text line files through the whole stack', () => {
  let stack: Stack;
  let browser: Browser | undefined;
  const get = async (path: string): Promise<Json> => {
    const res = await fetch(`${stack.url('query-api')}${path}`, { headers: { 'x-api-key': stack.queryKey } });
    expect(res.status).toBe(200);
    return (await res.json()) as Json;
  };
  const ledger = async (name: string) => (await stack.query<Json>(`SELECT id, kind, status, rows_loaded, rows_rejected, error, tag_counts FROM ingest_files WHERE original_name = $1`, [name]))[0];

  beforeAll(async () => {
    stack = await Stack.start({ label: 'logs' });
    // 40 lines, one not UTF-8 (2.5%, under MAX_INVALID_RATIO): a row error with its line, the rest loaded.
    const lines = Array.from({ length: 40 }, (_, i) => Buffer.from(`2024-07-21T14:${String(i).padStart(2, '0')}:00Z INFO request ${i}\n`));
    lines[16] = Buffer.concat([Buffer.from('2024-07-21T14:16:00Z WARN caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    stack.drop('app.log', (p) => writeFileSync(p, Buffer.concat(lines)));
    stack.drop('noise.log', (p) => writeFileSync(p, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256))));
    await stack.waitForTerminal(2);
    // The seed last, so its lines are the newest: the dashboard lists the newest 15 lines, whatever order
    // the processor took the other files in.
    stack.drop('input.log', (p) => copyFileSync(INPUT_LOG, p));
    await stack.waitForTerminal(3);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('loads the folder-queue seed: 4 lines tagged info, warn, error, info; ?tag=error returns "failed to connect"', async () => {
    const row = await ledger('input.log');
    expect(row).toMatchObject({ kind: 'log', status: 'processed', rows_loaded: '4', rows_rejected: '0', tag_counts: { error: 1, info: 2, warn: 1 } });
    const all = await get('/logs?file=input.log&order=asc');
    expect(all['lines'].map((l: Json) => [l['line'], l['tag']])).toEqual([
      [1, 'info'],
      [2, 'warn'],
      [3, 'error'],
      [4, 'info'],
    ]);
    const errors = await get('/logs?tag=error');
    expect(errors['lines'].map((l: Json) => [l['file_name'], l['message']])).toEqual([['input.log', 'failed to connect']]);
    expect((await get(`/files/${row['id']}`))['tag_counts']).toEqual({ error: 1, info: 2, warn: 1 });
  });

  it('reads timestamps and level words, records the line that is not UTF-8, and refuses binary content', async () => {
    expect(await ledger('app.log')).toMatchObject({ kind: 'log', status: 'processed', rows_loaded: '39', rows_rejected: '1', tag_counts: { info: 39 } });
    const [bad] = await stack.query<Json>(`SELECT e.line, e.rule FROM ingest_errors e JOIN ingest_files f ON f.id = e.file_id WHERE f.original_name = 'app.log'`);
    expect(bad).toEqual({ line: 17, rule: 'invalid_utf8' });
    const ranged = await get('/logs?file=app.log&from=2024-07-21T14:38:00Z&to=2024-07-21T15:00:00Z&order=asc');
    expect(ranged['lines'].map((l: Json) => [l['line'], l['ts'], l['tag'], l['message']])).toEqual([
      [39, '2024-07-21T14:38:00.000000Z', 'info', 'request 38'],
      [40, '2024-07-21T14:39:00.000000Z', 'info', 'request 39'],
    ]);
    expect((await get('/logs?q=request%2012'))['lines'].map((l: Json) => l['line'])).toEqual([13]);
    expect(await ledger('noise.log')).toMatchObject({ status: 'quarantined', error: { rule: 'unrecognized_format' } });
  });

  it('shows the files in /trace and the lines with their tag counts on the dashboard', async () => {
    const trace = await get('/trace');
    expect(trace['finished'].filter((f: Json) => f['kind'] === 'log').map((f: Json) => f['original_name']).sort()).toEqual(['app.log', 'input.log']);
    browser = await launchChromium();
    const errors: string[] = [];
    browser.page.on('pageerror', (e) => errors.push(e.message));
    await browser.page.goto(`${stack.url('query-api')}/?key=${encodeURIComponent(stack.queryKey)}`);
    await browser.page.locator('#log-lines tbody tr', { hasText: 'failed to connect' }).waitFor({ timeout: 20000 });
    await waitFor('tag counts', async () => ((await browser!.page.locator('#log-tags [data-tag="info"]').textContent()) === 'info 41' ? true : null), 10000, 200);
    expect(await browser.page.locator('#log-tags [data-tag="error"]').textContent()).toBe('error 1');
    expect(await browser.page.locator('#log-lines tbody tr', { hasText: 'failed to connect' }).textContent()).toContain('input.log');
    mkdirSync(join(WORKSPACE_ROOT, 'test-artifacts'), { recursive: true });
    await browser.page.locator('#log-lines').screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
  });
});
