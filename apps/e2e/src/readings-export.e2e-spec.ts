import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Stack, waitFor } from '@sluice/testing';

/** Four times the readings of the largest sensor of the 41 realtime-pipeline files (~135k): a ~50 MB CSV. */
const READINGS = 600_000;
/**
 * The query-api's old generation, capped: an export held whole (the ~50 MB body and 600,000 rows) cannot fit
 * and ends the process, a streamed one passes. RSS alone cannot tell them apart: V8 lets a heap that has room
 * grow before it collects, so a streamed export's RSS grows too (~115 MB for this one, as before the CSV writer).
 */
const HEAP_CAP = '--max-old-space-size=128';
const SENSOR = 'export-device/temp';
const OTHER = 'export-device/humidity';

/** Resident set of a process now, in MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

describe('streaming export of one sensor (query-api as a process)', () => {
  let stack: Stack;
  const path = (name: string, query = '') => `/sensors/${encodeURIComponent(name)}/readings${query}`;
  const get = (p: string, accept: string, signal?: AbortSignal) =>
    fetch(`${stack.url('query-api')}${p}`, { headers: { 'x-api-key': stack.queryKey, accept }, signal });

  beforeAll(async () => {
    stack = await Stack.start({ label: 'export', services: ['query-api'], env: { LOG_LEVEL: 'warn' }, serviceEnv: { 'query-api': { NODE_OPTIONS: HEAP_CAP } } });
    const fileId = randomUUID();
    await stack.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status)
       VALUES ($1, 'dropzone', 'generated', 'processed/generated', repeat('a', 64), 0, 'processed')`,
      [fileId],
    );
    const [{ id }] = await stack.query<{ id: number }>(`INSERT INTO sensors (name, device, metric) VALUES ($1, 'export-device', 'temp') RETURNING id`, [SENSOR]);
    const [{ id: other }] = await stack.query<{ id: number }>(`INSERT INTO sensors (name, device, metric) VALUES ($1, 'export-device', 'humidity') RETURNING id`, [OTHER]);
    // Microsecond timestamps and values with long decimal expansions: the export must keep both exactly.
    await stack.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT s, timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => i * 7.000013), 20 + 10 * sin(i / 500.0) + i / 1e9, $3
         FROM generate_series(1, $2::int) i, unnest(array[$1::int, $4::int]) s`,
      [id, READINGS, fileId, other],
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('streams a full-range CSV in bounded query-api memory (heap capped), and it parses back to the table', async () => {
    const pid = stack.pid('query-api')!;
    // Warm the route (JIT, pool connection) so the baseline is the process at work, not at rest.
    expect((await get(path(SENSOR, '?to=2020-01-01T01:00:00Z'), 'text/csv')).status).toBe(200);
    const baseline = rssMb(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 10);

    const res = await get(path(SENSOR), 'text/csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="export-device_temp.csv"');
    let body: string;
    try {
      body = await res.text();
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssMb(pid));

    const lines = body.trimEnd().split('\n');
    expect(lines[0]).toBe('ts,value,file_id');
    const rows = await stack.query<{ ts: string; value: number; file_id: string }>(
      `SELECT to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, r.value, r.file_id::text AS file_id
         FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = $1 ORDER BY r.ts`,
      [SENSOR],
    );
    expect(rows.length).toBe(READINGS);
    expect(lines.length - 1).toBe(rows.length);
    const mismatches = lines.slice(1).flatMap((l, i) => {
      const [ts, value, fileId] = l.split(',');
      const r = rows[i];
      return ts === r.ts && Number(value) === r.value && fileId === r.file_id ? [] : [{ line: i + 2, csv: l, table: r }];
    });
    expect(mismatches.slice(0, 5)).toEqual([]);

    const growth = peak - baseline;
    process.stdout.write(`export: ${READINGS} rows, ${(body.length / 1e6).toFixed(1)} MB of CSV; query-api RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MB (+${growth.toFixed(1)} MB)\n`);
    // Still the same process, alive, after streaming all of it with its heap capped.
    expect(stack.pid('query-api')).toBe(pid);
    expect(process.kill(pid, 0)).toBe(true);
  });

  it('streams the [from, to) range as NDJSON', async () => {
    const from = '2020-01-01T00:00:07.000013Z';
    const to = '2020-01-01T00:01:10.000130Z';
    const res = await get(path(SENSOR, `?from=${from}&to=${to}`), 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const items = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { ts: string });
    // Reading i is at i × 7.000013 s: i = 1 … 9, from included, to (i = 10) excluded.
    const at = (i: number) => `${new Date(Date.UTC(2020, 0, 1) + i * 7000).toISOString().slice(0, 19)}.${String(i * 13).padStart(6, '0')}Z`;
    expect(items.map((x) => x.ts)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(at));
  });

  it('answers 404 for an unknown sensor and 400 for page parameters, before streaming anything', async () => {
    const missing = await get(path('no/such'), 'text/csv');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const paged = await get(path(SENSOR, '?page=2&page_size=10'), 'text/csv');
    expect(paged.status).toBe(400);
    expect(((await paged.json()) as { error: { message: string } }).error.message).toContain('page');
  });

  it('aborts the response when the database connection dies mid-stream, so a truncated CSV never looks complete', async () => {
    const res = await get(path(SENSOR), 'text/csv');
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    // Kill the backend serving the cursor (and any idle pooled ones that ran an export before: harmless).
    const killed = await stack.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'sluice-query-api' AND query LIKE '%FROM raw_sensor_data r%WHERE r.sensor_id = $1%'`,
    );
    expect(killed.length).toBeGreaterThan(0);
    const drain = async () => {
      for (;;) if ((await reader.read()).done) return 'complete';
    };
    const hung = new Promise<string>((r) => setTimeout(() => r('still open after 15 s'), 15000).unref());
    await expect(Promise.race([drain(), hung])).rejects.toThrow();
    // The service carries on.
    await waitFor('query-api serves again', async () => (await get(path(SENSOR, '?limit=5'), 'application/json')).ok, 10000);
  });

  it('gives its database connection back when the client goes away mid-stream', async () => {
    const busy = () =>
      stack.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sluice-query-api' AND state <> 'idle'`);
    for (let i = 0; i < 3; i++) {
      const ctl = new AbortController();
      const res = await get(path(SENSOR), 'text/csv', ctl.signal);
      const reader = res.body!.getReader();
      await reader.read();
      ctl.abort();
      await reader.cancel().catch(() => undefined);
    }
    await waitFor('export cursors closed', async () => Number((await busy())[0].n) === 0, 10000);
    // The pool still serves: no leaked client holds a slot.
    const after = await get(path(SENSOR, '?limit=5'), 'application/json');
    expect(((await after.json()) as { readings: unknown[] }).readings).toHaveLength(5);
  });
});
