import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import { type Json, type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';

jest.setTimeout(60_000);

const KEY = 'qk-logs-secret';
const INPUT = '70000000-0000-4000-8000-000000000001';
const APP = '70000000-0000-4000-8000-000000000002';
const OTHER = '70000000-0000-4000-8000-000000000003';

/** Two plain-text files as the loader writes them: the folder-queue seed and a timestamped app log. */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded, tag_counts)
       VALUES ($1, 'dropzone', 'input.log', 'processed/input.log', repeat('a', 64), 83, 'log', 'processed', 4, 4, '{"error": 1, "info": 2, "warn": 1}'),
              ($2, 'dropzone', 'app.log', 'processed/app.log', repeat('b', 64), 500, 'log', 'processed', 5, 5, '{"error": 2, "info": 2}'),
              ($3, 'dropzone', 'readings.csv', 'processed/readings.csv', repeat('c', 64), 5, 'sensor_wide_csv', 'processed', 1, 1, NULL)`,
      [INPUT, APP, OTHER],
    );
    await c.query(
      `INSERT INTO log_lines (file_id, line, ts, tag, message) VALUES
         ($1, 1, NULL, 'info', 'system booted'), ($1, 2, NULL, 'warn', 'disk space low'),
         ($1, 3, NULL, 'error', 'failed to connect'), ($1, 4, NULL, 'info', 'user login')`,
      [INPUT],
    );
    await c.query(
      `INSERT INTO log_lines (file_id, line, ts, tag, message) VALUES
         ($1, 1, '2024-07-21T14:00:00Z', 'info', 'server started'),
         ($1, 2, '2024-07-21T14:30:00.000001Z', 'error', 'Connection refused, retrying'),
         ($1, 3, NULL, NULL, '    at connect (net.js:1:1), "quoted"'),
         ($1, 5, '2024-07-21T15:00:00Z', 'error', 'gave up: failed to connect'),
         ($1, 6, '2024-07-22T00:00:00Z', 'info', $2)`,
      [APP, `long ${'x'.repeat(9000)}`],
    );
  } finally {
    await c.end();
  }
}

describe('query-api GET /logs (real PostgreSQL and NATS)', () => {
  let api: QueryApiHarness;
  const call = (path: string, key?: string | null) => api.call(path, key);
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api.base}${path}`, { headers: { 'x-api-key': KEY, ...headers } });
  const lines = async (path: string) => {
    const { status, body } = await call(path);
    expect(status).toBe(200);
    return body['lines'] as Json[];
  };
  const expectBadParameter = (path: string, parameter: string) => api.expectBadParameter(path, parameter);

  beforeAll(async () => {
    api = await startQueryApi('query_logs', KEY, seed);
  });

  afterAll(async () => {
    await api?.close();
  });

  it('needs a key and is documented in OpenAPI with its filters', async () => {
    expect((await call('/logs', null)).status).toBe(401);
    expect((await call('/logs/tags', null)).status).toBe(401);
    const doc = (await call('/docs-json', null)).body;
    for (const p of ['/logs', '/logs/tags']) expect(doc['paths'][p]?.['get']?.['security']).toEqual([{ 'api-key': [] }]);
    const params = (doc['paths']['/logs']['get']['parameters'] as Json[]).map((p) => p['name']);
    expect(params).toEqual(expect.arrayContaining(['tag', 'file', 'from', 'to', 'q', 'order', 'limit', 'cursor']));
    expect(Object.keys(doc['paths']['/logs']['get']['responses']['200']['content'])).toEqual(['application/json', 'text/csv', 'application/x-ndjson']);
  });

  it('filters by tag (any case): ?tag=error of input.log is "failed to connect"', async () => {
    expect(await lines('/logs?tag=error&file=input.log')).toEqual([
      { file_id: INPUT, file_name: 'input.log', line: 3, ts: null, tag: 'error', message: 'failed to connect', message_truncated: false },
    ]);
    expect((await lines('/logs?tag=ERROR')).map((l) => l['message'])).toEqual(['gave up: failed to connect', 'Connection refused, retrying', 'failed to connect']);
  });

  it('filters by file id or name (404 for neither), by time range [from, to), and by words of the message', async () => {
    expect((await lines(`/logs?file=${APP}&order=asc`)).map((l) => l['line'])).toEqual([1, 2, 3, 5, 6]);
    expect((await lines('/logs?file=app.log&order=asc')).map((l) => l['line'])).toEqual([1, 2, 3, 5, 6]);
    const missing = await call('/logs?file=nope.log');
    expect(missing.status).toBe(404);
    expect(missing.body['error'].message).toContain('nope.log');
    expect((await call(`/logs?file=${OTHER}`)).status).toBe(404);
    expect((await lines('/logs?from=2024-07-21T14:30:00.000001Z&to=2024-07-22&order=asc')).map((l) => l['line'])).toEqual([2, 5]);
    expect((await lines('/logs?q=connect&order=asc')).map((l) => [l['file_name'], l['line']])).toEqual([
      ['input.log', 3],
      ['app.log', 3],
      ['app.log', 5],
    ]);
    expect((await lines('/logs?q=%22failed%20to%20connect%22%20-gave')).map((l) => l['line'])).toEqual([3]);
    expect((await lines('/logs?q=CONNECTION')).map((l) => l['line'])).toEqual([2]);
  });

  it('walks keyset pages each line once, newest first by default', async () => {
    const all = await lines('/logs');
    expect(all).toHaveLength(9);
    const { rows: seen, pages } = await api.walk('/logs?limit=4', 'lines');
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    expect(all[0]).toMatchObject({ line: 6, message_truncated: true });
    expect(all[0]['message']).toHaveLength(8192);
  });

  it('exports every match as CSV or NDJSON, messages whole', async () => {
    const csv = await get('/logs?file=app.log&order=asc&to=2024-07-21T15:00:00Z', { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(await csv.text()).toBe(
      'file_id,file_name,line,ts,tag,message\n' +
        `${APP},app.log,1,2024-07-21T14:00:00.000000Z,info,server started\n` +
        `${APP},app.log,2,2024-07-21T14:30:00.000001Z,error,"Connection refused, retrying"\n`,
    );
    const nd = await get('/logs?tag=info&file=app.log&q=long', { accept: 'application/x-ndjson' });
    const rows = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as Json);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ file_id: APP, file_name: 'app.log', line: 6, ts: '2024-07-22T00:00:00.000000Z', tag: 'info' });
    expect(rows[0]['message']).toHaveLength(9005);
    const refused = await get('/logs?limit=5', { accept: 'text/csv' });
    expect(refused.status).toBe(400);
  });

  it('sums the tag counts of the ledger rows', async () => {
    expect((await call('/logs/tags')).body).toEqual({
      tags: [
        { tag: 'info', lines: 4 },
        { tag: 'error', lines: 3 },
        { tag: 'warn', lines: 1 },
      ],
      files: 2,
      lines: 9,
    });
    expect((await call(`/files/${INPUT}`)).body['tag_counts']).toEqual({ error: 1, info: 2, warn: 1 });
  });

  it('exports in file order (the files as they arrived, each one\'s lines by line number) while pages stay newest loaded first', async () => {
    // app.log arrived first, and a replay of input.log that found its line 2 changed rewrote that line: load
    // order (the line ids) is now input.log's line 2 last, after every line of app.log.
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    try {
      await c.query(`UPDATE ingest_files SET created_at = created_at - interval '1 hour' WHERE id = $1`, [APP]);
      await c.query(
        `WITH gone AS (DELETE FROM log_lines WHERE file_id = $1 AND line = 2 RETURNING file_id, line, ts, tag)
         INSERT INTO log_lines (file_id, line, ts, tag, message) SELECT file_id, line, ts, tag, 'disk space very low' FROM gone`,
        [INPUT],
      );
    } finally {
      await c.end();
    }
    const inFileOrder = [['app.log', 1], ['app.log', 2], ['app.log', 3], ['app.log', 5], ['app.log', 6], ['input.log', 1], ['input.log', 2], ['input.log', 3], ['input.log', 4]];
    const exported = async (path: string, accept: string) => {
      const res = await get(path, { accept });
      expect(res.status).toBe(200);
      const text = await res.text();
      const rows = accept === 'text/csv' ? (parse(text, { columns: true }) as Json[]) : text.trim().split('\n').map((l) => JSON.parse(l) as Json);
      return rows.map((r) => [r['file_name'], Number(r['line'])]);
    };
    for (const accept of ['text/csv', 'application/x-ndjson']) {
      expect(await exported('/logs', accept)).toEqual(inFileOrder);
      expect(await exported('/logs?order=asc', accept)).toEqual(inFileOrder);
      expect(await exported('/logs?order=desc', accept)).toEqual([...inFileOrder].reverse());
    }
    // One file: its lines straight from the (file_id, line) index.
    const input = inFileOrder.filter(([name]) => name === 'input.log');
    expect(await exported('/logs?file=input.log', 'text/csv')).toEqual(input);
    expect(await exported(`/logs?file=${INPUT}&order=desc`, 'text/csv')).toEqual([...input].reverse());
    // A page: the line rewritten last first.
    expect((await lines('/logs?limit=2')).map((l) => [l['file_name'], l['line'], l['message']])).toEqual([
      ['input.log', 2, 'disk space very low'],
      ['app.log', 6, expect.stringMatching(/^long x/)],
    ]);
  });

  it('400 naming the parameter', async () => {
    await expectBadParameter('/logs?from=soon', 'from');
    await expectBadParameter('/logs?from=2024-07-22&to=2024-07-21', 'to');
    await expectBadParameter('/logs?limit=0', 'limit');
    await expectBadParameter('/logs?limit=1001', 'limit');
    await expectBadParameter('/logs?cursor=nope!', 'cursor');
    await expectBadParameter(`/logs?cursor=${Buffer.from('["x1"]').toString('base64url')}`, 'cursor');
    await expectBadParameter('/logs?order=sideways', 'order');
    await expectBadParameter(`/logs?q=${'a'.repeat(257)}`, 'q');
    await expectBadParameter('/logs?q=', 'q');
    await expectBadParameter('/logs?tag=a%00b', 'tag');
    await expectBadParameter('/logs?level=error', 'level');
  });
});
