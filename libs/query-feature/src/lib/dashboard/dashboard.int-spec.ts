import type { INestApplication } from '@nestjs/common';
import { redactKeyParam } from '@sluice/observability';
import { createTestDatabase, deleteNamespaceStream, SHARED_NATS_URL, startServiceApi, testNamespace, type TestDatabase } from '@sluice/testing';
import { QUERY_API } from '../../../test/query-api-harness';
import { DASHBOARD_JS as DASHBOARD_SCRIPT } from './dashboard.script';

jest.setTimeout(60_000);

const KEY = 'qk-dash+secret/=';
const INGEST_KEY = 'ik-dash';

describe('dashboard page and its key cookie (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let app: INestApplication | undefined;
  let base: string;
  const namespace = testNamespace('qdash');

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers, redirect: 'manual' });
  const postForm = (path: string, form: Record<string, string>) =>
    fetch(`${base}${path}`, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
  const cookieOf = (res: Response) => res.headers.get('set-cookie') ?? '';

  beforeAll(async () => {
    db = await createTestDatabase('query_dash');
    ({ app, base } = await startServiceApi(QUERY_API, { DATABASE_URL: db.url, NATS_NAMESPACE: namespace, QUERY_API_KEYS: KEY, INGEST_API_KEYS: INGEST_KEY }));
  });

  afterAll(async () => {
    await app?.close();
    // Also when a test has closed the app already.
    await deleteNamespaceStream(SHARED_NATS_URL, namespace);
    await db?.drop();
  });

  it('serves the page and its assets without a key, with a strict CSP', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<title>Sluice dashboard</title>');
    expect(html).toContain('/dashboard/vendor/uPlot.iife.min.js');
    for (const [path, type] of [
      ['/dashboard/app.js', 'text/javascript'],
      ['/dashboard/app.css', 'text/css'],
      ['/dashboard/vendor/uPlot.iife.min.js', 'text/javascript'],
      ['/dashboard/vendor/uPlot.min.css', 'text/css'],
    ]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect((await res.text()).length).toBeGreaterThan(500);
    }
    // The page script must parse: it is served from a string.
    expect(() => new Function(DASHBOARD_SCRIPT)).not.toThrow();
    expect((await get('/dashboard/nope.js')).status).toBe(404);
    expect((await get('/dashboard/vendor/..%2F..%2Fpackage.json')).status).toBe(404);
  });

  it('GET /?key= with a valid key sets an HttpOnly SameSite=Strict cookie and redirects to / without the key', async () => {
    const res = await get(`/?key=${encodeURIComponent(KEY)}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = cookieOf(res);
    expect(cookie).toContain(`sluice_key=${encodeURIComponent(KEY)}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    expect(res.headers.get('cache-control')).toBe('no-store');

    const jar = cookie.split(';')[0];
    expect((await get('/stats', { cookie: jar })).status).toBe(200);
    expect((await get('/sensors', { cookie: `theme=dark; ${jar}` })).status).toBe(200);
  });

  it('refuses a wrong key or a key of the ingest API: no cookie, back to the form', async () => {
    for (const key of ['guess', INGEST_KEY]) {
      const res = await get(`/?key=${key}`);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/#key-refused');
      expect(cookieOf(res)).toMatch(/^sluice_key=; .*Max-Age=0/);
    }
    expect((await get('/stats', { cookie: 'sluice_key=guess' })).status).toBe(401);
    expect((await get('/stats', { cookie: `sluice_key=${INGEST_KEY}` })).status).toBe(403);
    expect((await get('/stats')).status).toBe(401);
  });

  it('takes the key from the page form (POST /) and forgets it on POST /logout', async () => {
    const res = await postForm('/', { key: KEY });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    expect(cookieOf(res)).toContain('HttpOnly');
    const out = await postForm('/logout', {});
    expect(out.status).toBe(303);
    expect(cookieOf(out)).toMatch(/^sluice_key=; .*Max-Age=0/);
  });

  it('keeps the key out of logged URLs', () => {
    expect(redactKeyParam(`/?key=${KEY}`)).toBe('/?key=[redacted]');
    expect(redactKeyParam('/?a=1&key=abc&b=2')).toBe('/?a=1&key=[redacted]&b=2');
    expect(redactKeyParam('/sensors?monkey=1')).toBe('/sensors?monkey=1');
  });

  it('leaves the page out of OpenAPI', async () => {
    const doc = (await (await get('/docs-json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/dashboard') || p === '/logout')).toEqual([]);
  });

  it('ends open event streams when the app shuts down', async () => {
    const res = await get('/events', { 'x-api-key': KEY });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const closing = (app as INestApplication).close();
    app = undefined;
    // The stream ends (rather than holding the server open) and the close completes.
    for (;;) if ((await reader.read()).done) break;
    await expect(closing).resolves.toBeUndefined();
  });
});
