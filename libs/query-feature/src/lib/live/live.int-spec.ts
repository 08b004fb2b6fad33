import type { INestApplication } from '@nestjs/common';
import { BatchSubjects, FileSubjects, type FileBatchFinishedMessage, type FileBatchQueuedMessage, type FileLifecycleEvent } from '@sluice/contracts';
import { JetStreamService } from '@sluice/messaging';
import { createTestDatabase, startServiceApi, testNamespace, waitFor, type ServiceApi, type TestDatabase } from '@sluice/testing';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { QUERY_API } from '../../../test/query-api-harness';

jest.setTimeout(90_000);

const KEY = 'qk-live-secret';
/** MAX_SSE_CLIENTS of the app under test. */
const MAX_CLIENTS = 4;
const ids = {
  queued: '70000000-0000-4000-8000-000000000001',
  processing: '70000000-0000-4000-8000-000000000002',
  doneRecent: '70000000-0000-4000-8000-000000000003',
  doneOld: '70000000-0000-4000-8000-000000000004',
  quarantined: '70000000-0000-4000-8000-000000000005',
  failed: '70000000-0000-4000-8000-000000000006',
  duplicate: '70000000-0000-4000-8000-000000000007',
};

// Response bodies are checked field by field below; `any` keeps those checks short.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A ledger in every state, with times relative to now() so the live windows see them. */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  // `queued`: when the row last entered the queue, if not at its arrival (a replay).
  // `written`: the rows the file wrote, per table.
  const row = (id: string, name: string, status: string, stored: string, created: string, started: string | null, finished: string | null, loaded: number, written: Record<string, number>, rejected: number, error: object | null, queued: string = created) =>
    c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded, rows_rejected,
                                 rows_written, rows_written_by_table, error, attempts, created_at, updated_at, started_at, finished_at, queued_at)
       VALUES ($1::uuid, 'dropzone', $2, $3, md5($1::text) || md5($2::text), 100, NULL, $4, $5::bigint + $7::bigint, $5, $7,
               (SELECT coalesce(sum(v::bigint), 0) FROM jsonb_each_text($6::jsonb) e(k, v)), $6::jsonb, $8, 1,
               now() - $9::interval, now() - COALESCE($11::interval, $10::interval, $9::interval),
               now() - $10::interval, now() - $11::interval, now() - $12::interval)`,
      [id, name, stored, status, loaded, written, rejected, error, created, started, finished, queued],
    );
  try {
    await row(ids.queued, 'waiting.csv', 'queued', `processing/${ids.queued}__waiting.csv`, '3 seconds', null, null, 0, {}, 0, null);
    await row(ids.processing, 'busy.csv', 'processing', `processing/${ids.processing}__busy.csv`, '5 seconds', '2 seconds', null, 0, {}, 0, null);
    // Arrived an hour ago, replayed 20 s ago: its times count from the replay.
    await row(ids.doneRecent, 'recent.csv', 'processed', 'processed/recent.csv', '1 hour', '19 seconds', '18 seconds', 1000, { raw_sensor_data: 6000 }, 2, null, '20 seconds');
    // Its rows: readings and measurements (an NDJSON file's lines go to their own tables).
    await row(ids.doneOld, 'old.ndjson', 'processed', 'processed/old.ndjson', '2 hours', '2 hours', '2 hours', 500, { raw_sensor_data: 3000, measurements: 12 }, 0, null);
    await row(ids.quarantined, 'empty.csv', 'quarantined', 'quarantine/empty.csv', '30 seconds', '29 seconds', '29 seconds', 0, {}, 0, { rule: 'empty_file', message: 'the file is empty' });
    await row(ids.failed, 'poison.csv', 'failed', 'quarantine/poison.csv', '60 seconds', '50 seconds', '40 seconds', 0, {}, 3, { rule: 'processing_failed', message: 'boom' });
    await row(ids.duplicate, 'again.csv', 'duplicate', 'processed/again.csv', '10 seconds', null, '10 seconds', 0, {}, 0, null);
    await c.query(
      `INSERT INTO ingest_errors (file_id, line, "column", rule, message, raw)
       SELECT $1, n, 'temp', 'out_of_range', 'temp ' || (60 + n) || ' is outside -50..50', NULL FROM generate_series(5, 1, -1) n`,
      [ids.failed],
    );
  } finally {
    await c.end();
  }
}

interface SseEvent {
  id?: string;
  data: Json;
  receivedAt: number;
}

/** A minimal EventSource over fetch: parses `id:`/`data:` frames and counts comment lines. */
async function openEvents(url: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const state = { comments: 0, ended: false };
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let id: string | undefined;
            const data: string[] = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith(':')) state.comments++;
              else if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) events.push({ id, data: JSON.parse(data.join('\n')) as Json, receivedAt: performance.now() });
          }
        }
      } catch {
        // aborted
      } finally {
        state.ended = true;
      }
    })();
  }
  return { res, events, state, close: () => abort.abort() };
}

describe('query-api live state: /stats, /trace, /errors, /events (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let api: ServiceApi | undefined;
  let app: INestApplication;
  let js: JetStreamService;
  let base: string;

  const call = async (path: string, key: string | null = KEY): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${base}${path}`, { headers: key === null ? {} : { 'x-api-key': key } });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const event = (fileId: string, status: FileLifecycleEvent['status'], extra: Partial<FileLifecycleEvent> = {}): FileLifecycleEvent => ({
    fileId,
    status,
    originalName: 'x.csv',
    at: new Date().toISOString(),
    ...extra,
  });
  const subjectOf = { processing: FileSubjects.processing, processed: FileSubjects.processed, quarantined: FileSubjects.quarantined, duplicate: FileSubjects.duplicate, failed: FileSubjects.failed } as const;
  const consumersOnStream = async () => (await js.jsm.consumers.list(js.stream).next()).length;

  beforeAll(async () => {
    db = await createTestDatabase('query_live');
    await seed(db.url);
    api = await startServiceApi(QUERY_API, { DATABASE_URL: db.url, NATS_NAMESPACE: testNamespace('qlive'), QUERY_API_KEYS: KEY, INGEST_API_KEYS: 'ik', MAX_SSE_CLIENTS: String(MAX_CLIENTS) });
    ({ app, base } = api);
    js = app.get(JetStreamService);
  });

  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('needs a key and is documented', async () => {
    for (const p of ['/stats', '/trace', '/errors', '/events']) expect((await fetch(`${base}${p}`)).status).toBe(401);
    const doc = (await call('/docs-json', null)).body;
    for (const p of ['/stats', '/trace', '/errors', '/events']) expect(doc['paths'][p]['get']['security']).toEqual([{ 'api-key': [] }]);
    expect(Object.keys(doc['paths']['/events']['get']['responses']['200']['content'])).toEqual(['text/event-stream']);
  });

  it('GET /stats counts files per status and per ledger folder, rows and throughput', async () => {
    const { status, body } = await call('/stats');
    expect(status).toBe(200);
    expect(body['files_by_status']).toEqual({ queued: 1, processing: 1, processed: 2, duplicate: 1, quarantined: 1, failed: 1 });
    expect(body['files_total']).toBe(7);
    // No DROPZONE_DIR here: counted from the ledger's stored paths.
    expect(body['folders']).toEqual({ source: 'ledger', counts: { processing: 2, processed: 3, quarantine: 2 }, truncated: false });
    expect(body).toEqual(expect.objectContaining({ rows_loaded: 1500, readings_loaded: 9000, rows_written: 9012, rows_rejected: 5 }));
    // Readings are only the rows of raw_sensor_data; the measurements are counted under their own table.
    expect(body['rows_written_by_table']).toEqual({ raw_sensor_data: 9000, log_lines: 0, measurements: 12, vehicles_status: 0, detection_events: 0 });
    // Only the file that finished 18 s ago is in the last minute: 1000 records / 60 s (its 6000 readings were
    // written by an earlier run: it was replayed).
    expect(body['throughput']['rows_per_s']).toBe(16.7);
    expect(body['throughput']['window_s']).toBe(60);
    const series = body['throughput']['series'] as Json[];
    expect(series.length).toBeGreaterThanOrEqual(59);
    expect(series.reduce((a, p) => a + p['rows_per_s'] * 10, 0)).toBe(1000);
    // The figures' moment is the database's: the last bucket holds it.
    expect(Date.parse(body['at']) - Date.parse(series[series.length - 1]['t'])).toBeGreaterThanOrEqual(0);
    expect(Date.parse(body['at']) - Date.parse(series[series.length - 1]['t'])).toBeLessThan(10_000);
    expect(series.filter((p) => p['rows_per_s'] > 0)).toHaveLength(1);
  });

  it('GET /stats?series=false answers the same figures without the throughput series, for a reader at a terminal', async () => {
    const full = (await call('/stats')).body;
    const { status, body } = await call('/stats?series=false');
    expect(status).toBe(200);
    expect(body['throughput']).toEqual({ rows_per_s: 16.7, window_s: 60 });
    const { throughput: _t, at: _a, ...rest } = body;
    const { throughput: _ft, at: _fa, ...fullRest } = full;
    expect(rest).toEqual(fullRest);
    // The figures of a terminal's screen: the storage part (a line per table) comes on top.
    const { storage, ...figures } = body;
    expect(JSON.stringify(figures).length).toBeLessThan(600);
    expect(JSON.stringify(storage).length).toBeLessThan(2000);
    expect((await call('/stats?series=true')).body['throughput']['series'].length).toBeGreaterThanOrEqual(59);
    const bad = await call('/stats?series=no');
    expect(bad.status).toBe(400);
    expect(bad.body['error']['details']).toEqual([{ parameter: 'series', message: 'series must be true or false' }]);
    const doc = (await call('/docs-json', null)).body;
    expect(doc['paths']['/stats']['get']['parameters']).toContainEqual(expect.objectContaining({ name: 'series', in: 'query', required: false, schema: { type: 'boolean', default: true } }));
    expect(doc['components']['schemas']['ThroughputDto']['required']).not.toContain('series');
  });

  it('GET /trace shows files in flight (oldest first) and the last finished with durations', async () => {
    const { status, body } = await call('/trace');
    expect(status).toBe(200);
    expect(body['in_flight'].map((f: Json) => [f['original_name'], f['status']])).toEqual([
      ['busy.csv', 'processing'],
      ['waiting.csv', 'queued'],
    ]);
    const busy = body['in_flight'][0] as Json;
    expect(busy['wait_ms']).toBeCloseTo(3000, -2);
    expect(busy['processing_ms']).toBeGreaterThanOrEqual(2000);
    expect(body['in_flight'][1]['processing_ms']).toBeNull();
    expect(body['finished'].map((f: Json) => f['original_name'])).toEqual(['again.csv', 'recent.csv', 'empty.csv', 'poison.csv', 'old.ndjson']);
    const recent = body['finished'][1] as Json;
    expect(recent).toEqual(expect.objectContaining({ status: 'processed', rows_loaded: 1000, rows_rejected: 2, wait_ms: 1000, processing_ms: 1000, total_ms: 2000 }));
  });

  it('GET /errors lists quarantines and failures, newest first, with reasons and first row errors', async () => {
    const { status, body } = await call('/errors');
    expect(status).toBe(200);
    expect(body['errors']).toEqual([
      expect.objectContaining({ id: ids.quarantined, original_name: 'empty.csv', status: 'quarantined', error: { rule: 'empty_file', message: 'the file is empty' }, first_row_errors: [] }),
      expect.objectContaining({
        id: ids.failed,
        status: 'failed',
        error: { rule: 'processing_failed', message: 'boom' },
        rows_rejected: 3,
        first_row_errors: [1, 2, 3].map((line) => ({ line, column: 'temp', rule: 'out_of_range', message: `temp ${60 + line} is outside -50..50` })),
      }),
    ]);
    expect((await call('/errors?limit=1')).body['errors']).toHaveLength(1);
    const bad = await call('/errors?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body['error']['details']).toEqual([{ parameter: 'limit', message: expect.any(String) }]);
  });

  describe('GET /events', () => {
    it('streams each lifecycle event as JSON with its stream sequence, new messages only', async () => {
      // Published before the client connects: must not be replayed.
      await js.publish(FileSubjects.processed, event(randomUUID(), 'processed'), randomUUID());
      const sse = await openEvents(`${base}/events`, { 'x-api-key': KEY });
      try {
        expect(sse.res.status).toBe(200);
        expect(sse.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        const file = randomUUID();
        await js.publish(FileSubjects.queued, { fileId: file }, `${file}.q`);
        for (const s of ['processing', 'processed', 'quarantined', 'duplicate', 'failed'] as const) {
          await js.publish(subjectOf[s], event(file, s, s === 'quarantined' ? { error: { rule: 'empty_file', message: 'the file is empty' } } : {}), `${file}.${s}`);
        }
        // A payload that fails validation is skipped, not forwarded (sent raw: publish takes valid payloads only).
        await js.js.publish(js.subject(FileSubjects.processed), JSON.stringify({ fileId: 'not-a-uuid', status: 'processed' }), { msgID: randomUUID() });
        await waitFor('6 events', async () => sse.events.length >= 6, 5000, 20);
        await new Promise((r) => setTimeout(r, 200));
        expect(sse.events.map((e) => e.data['status'])).toEqual(['queued', 'processing', 'processed', 'quarantined', 'duplicate', 'failed']);
        expect(sse.events.every((e) => e.data['fileId'] === file)).toBe(true);
        expect(sse.events[0].data).toEqual({ fileId: file, status: 'queued', at: expect.any(String) });
        expect(sse.events[3].data['error']).toEqual({ rule: 'empty_file', message: 'the file is empty' });
        const seqs = sse.events.map((e) => Number(e.id));
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        expect(sse.state.comments).toBeGreaterThanOrEqual(1); // the ": connected" comment
      } finally {
        sse.close();
      }
    });

    it('names queued files from the ledger (a queued message carries ids only), single and batched', async () => {
      const sse = await openEvents(`${base}/events`, { 'x-api-key': KEY });
      try {
        await js.publish(FileSubjects.queued, { fileId: ids.queued }, `${ids.queued}.named`);
        await js.publish(BatchSubjects.queued, { fileIds: [ids.processing, ids.queued] } satisfies FileBatchQueuedMessage, `batch.${ids.processing}.named`);
        await waitFor('3 events', async () => sse.events.length >= 3, 5000, 20);
        expect(sse.events.map((e) => [e.data['status'], e.data['originalName']])).toEqual([
          ['queued', 'waiting.csv'],
          ['queued', 'busy.csv'],
          ['queued', 'waiting.csv'],
        ]);
      } finally {
        sse.close();
      }
    });

    it('splits batch messages: one queued event per file id, one event per finished file, all with the message sequence', async () => {
      const sse = await openEvents(`${base}/events`, { 'x-api-key': KEY });
      try {
        const files = [randomUUID(), randomUUID(), randomUUID()];
        const queued: FileBatchQueuedMessage = { fileIds: files };
        await js.publish(BatchSubjects.queued, queued, `batch.${files[0]}`);
        const finished: FileBatchFinishedMessage = {
          events: [
            event(files[0], 'processed', { rowsLoaded: 1 }),
            event(files[1], 'quarantined', { error: { rule: 'empty_file', message: 'the file is empty' } }),
            event(files[2], 'duplicate', { duplicateOf: files[0] }),
          ],
        };
        await js.publish(BatchSubjects.finished, finished, `batch.${files[0]}.finished`);
        // Invalid batches are skipped whole: a bad id, a non-terminal status in a finished batch, an empty list.
        await js.publish(BatchSubjects.queued, { fileIds: [randomUUID(), 'not-a-uuid'] }, randomUUID());
        await js.publish(BatchSubjects.finished, { events: [event(randomUUID(), 'processed'), event(randomUUID(), 'processing')] }, randomUUID());
        await js.publish(BatchSubjects.queued, { fileIds: [] }, randomUUID());
        // Then a single event, to know the skipped ones have gone by.
        const last = randomUUID();
        await js.publish(FileSubjects.processed, event(last, 'processed'), `${last}.processed`);
        await waitFor('7 events', async () => sse.events.length >= 7, 5000, 20);
        await new Promise((r) => setTimeout(r, 200));
        expect(sse.events.map((e) => [e.data['fileId'], e.data['status']])).toEqual([
          [files[0], 'queued'],
          [files[1], 'queued'],
          [files[2], 'queued'],
          [files[0], 'processed'],
          [files[1], 'quarantined'],
          [files[2], 'duplicate'],
          [last, 'processed'],
        ]);
        expect(sse.events[0].data).toEqual({ fileId: files[0], status: 'queued', at: expect.any(String) });
        expect(sse.events[3].data).toEqual(finished.events[0]);
        expect(sse.events[4].data['error']).toEqual({ rule: 'empty_file', message: 'the file is empty' });
        expect(sse.events[5].data['duplicateOf']).toBe(files[0]);
        const seqs = sse.events.map((e) => Number(e.id));
        expect(new Set(seqs.slice(0, 3)).size).toBe(1);
        expect(new Set(seqs.slice(3, 6)).size).toBe(1);
        expect(seqs[3]).toBe(seqs[0] + 1);
        expect(seqs[6]).toBe(seqs[3] + 4);
      } finally {
        sse.close();
      }
    });

    it('resumes after Last-Event-ID, and deletes its consumer when the client goes', async () => {
      const first = await openEvents(`${base}/events`, { 'x-api-key': KEY });
      const file = randomUUID();
      await js.publish(FileSubjects.processing, event(file, 'processing'), `${file}.processing`);
      await waitFor('first event', async () => first.events.length >= 1, 5000, 10);
      expect(await consumersOnStream()).toBe(1);
      first.close();
      await waitFor('consumer deleted', async () => (await consumersOnStream()) === 0, 5000, 50);

      // Missed while disconnected, then replayed from the sequence after the last one seen.
      await js.publish(FileSubjects.processed, event(file, 'processed'), `${file}.processed`);
      const again = await openEvents(`${base}/events`, { 'x-api-key': KEY, 'last-event-id': first.events[0].id as string });
      try {
        await waitFor('replayed event', async () => again.events.length >= 1, 5000, 10);
        expect(again.events[0].data).toEqual(expect.objectContaining({ fileId: file, status: 'processed' }));
        expect(Number(again.events[0].id)).toBe(Number(first.events[0].id) + 1);
      } finally {
        again.close();
      }
      await waitFor('consumer deleted', async () => (await consumersOnStream()) === 0, 5000, 50);
    });

    it('serves every client from one shared consumer, and resumes a recent Last-Event-ID from it', async () => {
      const clients = await Promise.all(Array.from({ length: MAX_CLIENTS - 1 }, () => openEvents(`${base}/events`, { 'x-api-key': KEY })));
      try {
        expect(clients.map((c) => c.res.status)).toEqual(clients.map(() => 200));
        expect(await consumersOnStream()).toBe(1);
        const file = randomUUID();
        await js.publish(FileSubjects.processing, event(file, 'processing'), `${file}.shared.processing`);
        await js.publish(FileSubjects.processed, event(file, 'processed'), `${file}.shared.processed`);
        await waitFor('every client has both events', async () => clients.every((c) => c.events.length >= 2), 5000, 20);
        for (const c of clients) expect(c.events.map((e) => [e.data['fileId'], e.data['status']])).toEqual([[file, 'processing'], [file, 'processed']]);

        // A reconnect after an event the shared feed still holds: replayed from it, no consumer of its own.
        const again = await openEvents(`${base}/events`, { 'x-api-key': KEY, 'last-event-id': clients[0].events[0].id as string });
        try {
          await waitFor('replayed event', async () => again.events.length >= 1, 5000, 10);
          expect(again.events[0]).toMatchObject({ id: clients[0].events[1].id, data: { fileId: file, status: 'processed' } });
          expect(await consumersOnStream()).toBe(1);
        } finally {
          again.close();
        }
      } finally {
        for (const c of clients) c.close();
      }
      await waitFor('consumer deleted', async () => (await consumersOnStream()) === 0, 5000, 50);
    });

    it(`answers 503 with Retry-After in the error format beyond MAX_SSE_CLIENTS (${MAX_CLIENTS}), and takes a client again once one goes`, async () => {
      const clients = await Promise.all(Array.from({ length: MAX_CLIENTS }, () => openEvents(`${base}/events`, { 'x-api-key': KEY })));
      try {
        expect(clients.map((c) => c.res.status)).toEqual(clients.map(() => 200));
        const refused = await fetch(`${base}/events`, { headers: { 'x-api-key': KEY } });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('10');
        expect(await refused.json()).toEqual({
          error: { code: 'service_unavailable', message: expect.stringContaining('MAX_SSE_CLIENTS'), details: { max_clients: MAX_CLIENTS, retry_after_seconds: 10 } },
        });
        clients.pop()?.close();
        await waitFor('a slot is free again', async () => {
          const next = await openEvents(`${base}/events`, { 'x-api-key': KEY });
          if (next.res.status === 200) clients.push(next);
          else await next.res.body?.cancel();
          return next.res.status === 200;
        }, 5000, 50);
      } finally {
        for (const c of clients) c.close();
      }
    });
  });
});
