// One suite, past 400 lines, over one booted ingest-api: a file per endpoint would boot it again for each.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import SwaggerParser from '@apidevtools/swagger-parser';
import { DeliverPolicy } from '@nats-io/jetstream';
import { BatchSubjects, FileSubjects, fullSubject, type FileBatchQueuedMessage } from '@sluice/contracts';
import { StoredPayloads } from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';
import { createTestDatabase, TEST_PG_URL, type TestDatabase } from '@sluice/testing';
import { Client } from 'pg';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { IdempotencyExpiry } from './idempotency-expiry.service';
import { INGEST_KEY, INLINE_MAX, startIngestApi, stopIngestApi } from '../../test/ingest-api-harness';
import { IngestApiModule } from './ingest-api.module';

jest.setTimeout(60000);

const SEED = readFileSync(join(__dirname, '../../../../fixtures/json/payload.json'));
const KEY = INGEST_KEY;
const QUERY_KEY = 'query-key';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** POST /ingest bodies up to this size are kept in ingest_payloads; larger ones go to processing/. */

interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

/** The harness's ingest-api, with the query key the API refuses (403 tests). */
const boot = (db: TestDatabase, dir: string, extra: Record<string, string> = {}) => startIngestApi(db, dir, { QUERY_API_KEYS: QUERY_KEY, ...extra });
const shutdown = stopIngestApi;

describe('ingest-api (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication;
  let base: string;

  const post = (path: string, body: RequestInit['body'], headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', body, headers: { 'x-api-key': KEY, ...headers } });
  const postJson = (body: string | Buffer, headers: Record<string, string> = {}) => post('/ingest', body, { 'content-type': 'application/json', ...headers });
  const errorOf = async (res: Response) => (await res.json()) as ErrorBody;
  const ledger = (id: string) => app.get(DataSource).query(`SELECT * FROM ingest_files WHERE id = $1`, [id]) as Promise<Array<Record<string, unknown>>>;
  const payloadRow = async (id: string) => ((await app.get(DataSource).query(`SELECT body FROM ingest_payloads WHERE file_id = $1`, [id])) as Array<{ body: Buffer }>)[0];
  /** The stored raw bytes a ledger row names: a body in ingest_payloads (database/<id>) or a file of the drop folder. */
  const storedBytes = async (row: Record<string, unknown>): Promise<Buffer> => {
    const storedPath = row['stored_path'] as string;
    if (!storedPath.startsWith('database/')) return readFileSync(join(dir, storedPath));
    const stored = await payloadRow(row['id'] as string);
    if (!stored) throw new Error(`no body in ingest_payloads for ${String(row['id'])}`);
    return stored.body;
  };
  /** Queued messages of our namespace: file ids of `files.queued` (one each) and of `batches.queued` (many each). */
  const queuedMessages = async () => {
    const js = app.get(JetStreamService);
    const info = await js.jsm.streams.info(js.stream);
    const single: string[] = [];
    const batches: string[][] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await js.jsm.streams.getMessage(js.stream, { seq }).catch(() => null);
      if (m?.subject === fullSubject(js.namespace, FileSubjects.queued)) single.push(m.json<{ fileId: string }>().fileId);
      if (m?.subject === fullSubject(js.namespace, BatchSubjects.queued)) batches.push(m.json<FileBatchQueuedMessage>().fileIds);
    }
    return { single, batches };
  };
  const queuedIds = async () => {
    const { single, batches } = await queuedMessages();
    return [...single, ...batches.flat()];
  };
  const processingFilesOf = (id: string) => readdirSync(join(dir, 'processing')).filter((n) => n.startsWith(id));

  beforeAll(async () => {
    db = await createTestDatabase('ingestapi');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'));
    ({ app, base } = await boot(db, dir));
  });
  afterAll(async () => {
    await shutdown(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-contracts`, { recursive: true, force: true });
  });

  it('boots with its database and NATS ready', async () => {
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { database: { status: 'up' }, nats: { status: 'up' } } });
  });

  it('stores the seed payload byte for byte, registers it as api, queues it, then answers 202', async () => {
    const res = await postJson(SEED);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { raw_id: string; status_url: string };
    expect(body.status_url).toBe(`/ingest/${body.raw_id}`);
    expect(res.headers.get('location')).toBe(body.status_url);
    const [row] = await ledger(body.raw_id);
    expect(row).toMatchObject({ source: 'api', status: 'queued', sha256: sha(SEED), size_bytes: String(SEED.length) });
    expect((await storedBytes(row)).equals(SEED)).toBe(true);
    expect(sha(await storedBytes(row))).toBe(sha(SEED));
    expect(await queuedIds()).toContain(body.raw_id);

    const status = await fetch(`${base}${body.status_url}`, { headers: { 'x-api-key': KEY } });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ raw_id: body.raw_id, status: 'queued', source: 'api', size_bytes: SEED.length, sha256: sha(SEED), errors: [], readings_loaded: 0, rows_written: 0, rows_written_by_table: {} });
  });

  it('accepts every JSON kind and NDJSON', async () => {
    const docs = [
      JSON.stringify({ vehicle_status: [{ vehicle_id: 'v1', report_time: '2022-05-05T22:02:34.546Z', status: 'driving' }] }),
      JSON.stringify({ objects_detection_events: [{ vehicle_id: 'v1', detection_time: '2022-05-05T22:02:34.546Z', detections: [{ object_type: 'cars', object_value: 2 }] }] }),
    ];
    for (const d of docs) expect((await postJson(d)).status).toBe(202);
    const ndjson = '{"kind":"measurement","time_stamp":"2019-05-01T07:00:00-04:00","data":[1,2]}\n\n{"kind":"sensor_reading","sensor":"dev/temp","ts":"2020-07-12T00:01:34Z","value":22.7}\n';
    const res = await post('/ingest', ndjson, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(202);
    const { raw_id } = (await res.json()) as { raw_id: string };
    expect((await storedBytes((await ledger(raw_id))[0])).toString('utf8')).toBe(ndjson);
  });

  it('takes NDJSON lines of a data contract\'s kind (202, stored as sent); a kind no contract takes, or kinds mixed, are 422 naming them', async () => {
    // The harness's CONTRACTS_DIR, read again for the body: the contract is in force at once.
    mkdirSync(`${dir}-contracts`, { recursive: true });
    copyFileSync(join(__dirname, '../../../../examples/contracts/orders.yaml'), join(`${dir}-contracts`, 'orders.yaml'));
    const order = (id: string, kind = 'orders') => JSON.stringify({ kind, order_id: id, status: 'paid', amount: 3, currency: 'EUR', updated_at: '2024-06-01T10:00:00Z', customer: { id: 'c-1' } });
    const ndjson = `${order('o-1')}\n${order('o-2')}\n`;
    const res = await post('/ingest', ndjson, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(202);
    const { raw_id } = (await res.json()) as { raw_id: string };
    expect((await storedBytes((await ledger(raw_id))[0])).toString('utf8')).toBe(ndjson);

    const unknown = await post('/ingest', `${order('o-3', 'invoices')}\n`, { 'content-type': 'application/x-ndjson' });
    expect(unknown.status).toBe(422);
    const refused = (await errorOf(unknown)).error;
    expect(refused.message).toContain('"invoices"');
    expect(refused.message).toContain('data contracts in force take orders');
    expect((refused.details as { problems: unknown[] }).problems).toEqual([expect.objectContaining({ line: 1, field: 'kind', rule: 'unknown_kind' })]);

    const mixed = await post('/ingest', `${order('o-4')}\n{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[1]}\n`, { 'content-type': 'application/x-ndjson' });
    expect(mixed.status).toBe(422);
    expect(((await errorOf(mixed)).error.details as { problems: unknown[] }).problems).toEqual([expect.objectContaining({ line: 2, field: 'kind', rule: 'mixed_kinds' })]);
    expect(await app.get(DataSource).query(`SELECT id FROM ingest_files WHERE sha256 = ANY($1)`, [[sha(`${order('o-3', 'invoices')}\n`)]])).toEqual([]);
  });

  it('returns the same raw_id for a repeated Idempotency-Key and stores nothing new, per API key', async () => {
    const doc = JSON.stringify({ time_stamp: '2019-05-02T06:00:00-04:00', data: [1] });
    const first = await postJson(doc, { 'idempotency-key': 'order-42' });
    const { raw_id } = (await first.json()) as { raw_id: string };
    const again = await postJson(doc, { 'idempotency-key': 'order-42' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { raw_id: string }).raw_id).toBe(raw_id);
    expect(await app.get(DataSource).query(`SELECT id FROM ingest_files WHERE sha256 = $1`, [sha(doc)])).toHaveLength(1);

    // Concurrent first uses of one key: one payload stored, every answer names it.
    const doc2 = JSON.stringify({ time_stamp: '2019-05-03T06:00:00-04:00', data: [2] });
    const answers = await Promise.all(Array.from({ length: 12 }, () => postJson(doc2, { 'idempotency-key': 'race' }).then((r) => r.json() as Promise<{ raw_id: string }>)));
    expect(new Set(answers.map((a) => a.raw_id)).size).toBe(1);
    expect(await app.get(DataSource).query(`SELECT id FROM ingest_files WHERE sha256 = $1`, [sha(doc2)])).toHaveLength(1);
    // Stored once: the losers of the race left no body behind.
    const files = readdirSync(join(dir, 'processing')).filter((n) => !n.startsWith('.'));
    const bodies = (await app.get(DataSource).query(`SELECT body FROM ingest_payloads`)) as Array<{ body: Buffer }>;
    expect([...files.map((n) => readFileSync(join(dir, 'processing', n), 'utf8')), ...bodies.map((b) => b.body.toString('utf8'))].filter((b) => b === doc2)).toHaveLength(1);
  });

  it('an Idempotency-Key expires after IDEMPOTENCY_KEY_TTL_HOURS: then it stores a new payload, and expired keys are deleted', async () => {
    const rawIdOf = async (res: Response) => ((await res.json()) as { raw_id: string }).raw_id;
    const age = (rawId: string) => app.get(DataSource).query(`UPDATE ingest_idempotency_keys SET created_at = now() - interval '25 hours' WHERE raw_id = $1`, [rawId]);
    const first = await rawIdOf(await postJson(JSON.stringify({ time_stamp: '2019-06-04T06:00:00-04:00', data: [4] }), { 'idempotency-key': 'daily' }));
    await age(first);
    const fresh = await postJson(JSON.stringify({ time_stamp: '2019-06-05T06:00:00-04:00', data: [5] }), { 'idempotency-key': 'daily' });
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    const second = await rawIdOf(fresh);
    expect(second).not.toBe(first);
    expect(await ledger(second)).toHaveLength(1);
    const again = await postJson(JSON.stringify({ time_stamp: '2019-06-05T06:00:00-04:00', data: [5] }), { 'idempotency-key': 'daily' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await rawIdOf(again)).toBe(second);

    const old = await rawIdOf(await postJson(JSON.stringify({ time_stamp: '2019-06-05T07:00:00-04:00', data: [5] }), { 'idempotency-key': 'yesterday' }));
    await age(old);
    expect(await app.get(IdempotencyExpiry).sweep()).toBe(1);
    const keys = (await app.get(DataSource).query(`SELECT idempotency_key AS k FROM ingest_idempotency_keys WHERE idempotency_key IN ('daily', 'yesterday')`)) as Array<{ k: string }>;
    expect(keys.map((r) => r.k)).toEqual(['daily']);
    // The payload stays; only the key is forgotten.
    expect(await ledger(old)).toHaveLength(1);
  });

  it('keeps a small body in ingest_payloads with its row (database/<id>), no file; a larger one goes to processing/', async () => {
    const small = JSON.stringify({ time_stamp: '2019-05-06T06:00:00-04:00', data: [6, 7] });
    const s = (await (await postJson(small)).json()) as { raw_id: string };
    const [sRow] = await ledger(s.raw_id);
    expect(sRow).toMatchObject({ stored_path: `database/${s.raw_id}`, sha256: sha(small), size_bytes: String(small.length), status: 'queued' });
    expect((await payloadRow(s.raw_id)).body.toString('utf8')).toBe(small);
    expect(processingFilesOf(s.raw_id)).toEqual([]);
    expect(existsSync(join(dir, 'database'))).toBe(false);
    const { single, batches } = await queuedMessages();
    expect(single).not.toContain(s.raw_id);
    expect(batches.filter((b) => b.includes(s.raw_id))).toHaveLength(1);

    // Just over INGEST_INLINE_MAX_BYTES: written to processing/ and queued on its own, as before.
    const large = JSON.stringify({ time_stamp: '2019-05-06T07:00:00-04:00', data: [7] }).padEnd(INLINE_MAX + 1, ' ');
    expect(Buffer.byteLength(large)).toBe(INLINE_MAX + 1);
    const l = (await (await postJson(large)).json()) as { raw_id: string };
    const [lRow] = await ledger(l.raw_id);
    expect(lRow['stored_path']).toBe(`processing/${l.raw_id}__${l.raw_id}.json`);
    expect(readFileSync(join(dir, lRow['stored_path'] as string), 'utf8')).toBe(large);
    expect(await payloadRow(l.raw_id)).toBeUndefined();
    const after = await queuedMessages();
    expect(after.single).toContain(l.raw_id);
    expect(after.batches.flat()).not.toContain(l.raw_id);

    // Exactly INGEST_INLINE_MAX_BYTES is still kept in the database.
    const edge = JSON.stringify({ time_stamp: '2019-05-06T08:00:00-04:00', data: [8] }).padEnd(INLINE_MAX, ' ');
    const e = (await (await postJson(edge)).json()) as { raw_id: string };
    expect((await ledger(e.raw_id))[0]['stored_path']).toBe(`database/${e.raw_id}`);
    expect(sha((await payloadRow(e.raw_id)).body)).toBe(sha(edge));
  });

  it('queues a burst of concurrent small payloads with batches.queued messages naming each exactly once', async () => {
    const js = app.get(JetStreamService);
    const start = (await js.jsm.streams.info(js.stream)).state.last_seq + 1;
    const consumer = await js.js.consumers.get(js.stream, { filter_subjects: js.subject(BatchSubjects.queued), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const n = 50;
    const answers = await Promise.all(
      // Bodies of different lengths, so that a batch's bodies cut apart at the wrong place would show.
      Array.from({ length: n }, (_, i) => postJson(JSON.stringify({ time_stamp: new Date(Date.UTC(2021, 0, 1, 0, 0, i)).toISOString(), data: Array.from({ length: 1 + (i % 7) }, (_, k) => i + k) }))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(202));
    const rawIds = await Promise.all(answers.map(async (a) => ((await a.json()) as { raw_id: string }).raw_id));

    const named: string[] = [];
    const messages: string[][] = [];
    const sub = await consumer.consume({ max_messages: 100 });
    const done = (async () => {
      for await (const m of sub) {
        const ids = m.json<FileBatchQueuedMessage>().fileIds;
        messages.push(ids);
        named.push(...ids);
        if (named.length >= n) break;
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    await sub.close();
    expect(named.sort()).toEqual([...rawIds].sort());
    // Batched: fewer messages than payloads (a message per group commit).
    expect(messages.length).toBeLessThan(n);
    for (const id of rawIds) expect(processingFilesOf(id)).toEqual([]);
    const stored = (await app.get(DataSource).query(`SELECT count(*)::int AS c FROM ingest_payloads WHERE file_id = ANY($1::uuid[])`, [rawIds])) as Array<{ c: number }>;
    expect(stored[0].c).toBe(n);
    // Each body stored byte for byte with its own row: its SHA-256 is the one the ledger recorded.
    const mismatched = (await app.get(DataSource).query(
      `SELECT f.id FROM ingest_files f JOIN ingest_payloads p ON p.file_id = f.id WHERE f.id = ANY($1::uuid[]) AND encode(sha256(p.body), 'hex') <> f.sha256`,
      [rawIds],
    )) as unknown[];
    expect(mismatched).toEqual([]);
  });

  it('marks the same content sent twice without a key as a duplicate of the first', async () => {
    const doc = JSON.stringify({ time_stamp: '2019-05-04T06:00:00-04:00', data: [3] });
    const a = (await (await postJson(doc)).json()) as { raw_id: string };
    const b = (await (await postJson(doc)).json()) as { raw_id: string };
    expect(b.raw_id).not.toBe(a.raw_id);
    expect((await ledger(b.raw_id))[0]).toMatchObject({ status: 'duplicate', duplicate_of: a.raw_id });
  });

  it('400: malformed JSON, with the line and column', async () => {
    const res = await postJson('{\n  "time_stamp": "2019-05-01T06:00:00-04:00",\n  "data": [1, 2,, 3]\n}');
    expect(res.status).toBe(400);
    const body = await errorOf(res);
    expect(body.error.code).toBe('invalid_json');
    expect(body.error.message).toMatch(/line 3, column \d+/);
    expect(body.error.details).toMatchObject({ line: 3 });
  });

  it('422: names the field and the rule the processor would refuse', async () => {
    const res = await postJson(JSON.stringify({ time_stamp: '2019-05-01T06:00:00', data: [1, 'x'] }));
    expect(res.status).toBe(422);
    const body = await errorOf(res);
    expect(body.error.code).toBe('invalid_document');
    const problems = (body.error.details as { problems: Array<{ field: string; rule: string }> }).problems;
    expect(problems).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'time_stamp', rule: 'invalid_timestamp' }), expect.objectContaining({ field: 'data[1]', rule: 'not_a_number' })]));
    expect(body.error.message).toContain('time_stamp');

    const unknown = await postJson('{"hello":"world"}');
    expect(unknown.status).toBe(422);
    expect((await errorOf(unknown)).error.message).toContain('"hello"');

    const ndjson = await post('/ingest', '{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[1]}\n{"kind":"vehicle_status","vehicle_id":"v"}\n', { 'content-type': 'application/x-ndjson' });
    expect(ndjson.status).toBe(422);
    const nd = await errorOf(ndjson);
    expect(nd.error.message).toContain('line 2');
    expect((nd.error.details as { problems: Array<{ line: number; field: string }> }).problems[0]).toMatchObject({ line: 2 });
  });

  it('422: a NUL or a lone surrogate in a field, which PostgreSQL cannot store, is refused at once naming the field', async () => {
    const res = await postJson('{"vehicle_status":[{"vehicle_id":"a\\u0000b","report_time":"2022-05-05T22:02:34.546Z","status":"driving"}]}');
    expect(res.status).toBe(422);
    const body = await errorOf(res);
    expect(body.error).toMatchObject({ code: 'invalid_document', message: expect.stringContaining('vehicle_status[0].vehicle_id') });
    expect((body.error.details as { problems: unknown[] }).problems).toEqual([expect.objectContaining({ field: 'vehicle_status[0].vehicle_id', rule: 'invalid_character' })]);

    const nd = await post('/ingest', '{"kind":"sensor_reading","sensor":"d\\ud800/temp","ts":"2020-07-12T00:01:34Z","value":1}\n', { 'content-type': 'application/x-ndjson' });
    expect(nd.status).toBe(422);
    expect(((await errorOf(nd)).error.details as { problems: unknown[] }).problems).toEqual([expect.objectContaining({ line: 1, field: 'sensor', rule: 'invalid_utf8' })]);
  });

  it('413 over MAX_INGEST_BODY_BYTES, 415 for another content type, 401/403 for keys', async () => {
    const big = JSON.stringify({ time_stamp: '2019-05-01T06:00:00Z', data: Array.from({ length: 20000 }, (_, i) => i) });
    const tooBig = await postJson(big);
    expect(tooBig.status).toBe(413);
    expect((await errorOf(tooBig)).error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('MAX_INGEST_BODY_BYTES') });

    const text = await post('/ingest', 'a,b\n1,2\n', { 'content-type': 'text/csv' });
    expect(text.status).toBe(415);
    expect((await errorOf(text)).error).toMatchObject({ code: 'unsupported_media_type', message: expect.stringContaining('text/csv') });

    const anonymous = await fetch(`${base}/ingest`, { method: 'POST', body: SEED, headers: { 'content-type': 'application/json' } });
    expect(anonymous.status).toBe(401);
    expect((await errorOf(anonymous)).error.message).toContain('x-api-key');
    const foreign = await postJson(SEED, { 'x-api-key': QUERY_KEY });
    expect(foreign.status).toBe(403);
    expect((await errorOf(foreign)).error.code).toBe('forbidden');
  });

  it('uploads multipart and raw files, streamed, and refuses one over MAX_UPLOAD_BYTES with 413', async () => {
    const csv = 'ts,device,co,humidity,light,lpg,motion,smoke,temp\n"1594512094.3859746","b8:27:eb:bf:9d:51","0.0049","51","False","0.0076","False","0.0204","22.7"\n';
    const form = new FormData();
    form.append('note', 'ignored');
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'sensors/../split_x.csv');
    const multi = await post('/ingest/files', form);
    expect(multi.status).toBe(202);
    const m = (await multi.json()) as { raw_id: string };
    const [row] = await ledger(m.raw_id);
    expect(row).toMatchObject({ original_name: 'split_x.csv', sha256: sha(csv) });
    expect(readFileSync(join(dir, row['stored_path'] as string), 'utf8')).toBe(csv);

    const raw = await post('/ingest/files?filename=raw.csv', csv.replace('22.7', '22.8'), { 'content-type': 'text/csv' });
    expect(raw.status).toBe(202);

    const noName = await post('/ingest/files', csv, { 'content-type': 'text/csv' });
    expect(noName.status).toBe(400);
    expect((await errorOf(noName)).error.message).toContain('filename');

    const noField = new FormData();
    noField.append('other', new Blob(['x']), 'x.csv');
    const missing = await post('/ingest/files', noField);
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).error.message).toContain('"file"');

    // Chunked (no Content-Length): refused while streaming, the partial file removed.
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < big.length; i += 65536) c.enqueue(big.subarray(i, i + 65536));
        c.close();
      },
    });
    const tooBig = await fetch(`${base}/ingest/files?filename=big.csv`, { method: 'POST', body: stream, headers: { 'x-api-key': KEY, 'content-type': 'text/csv' }, duplex: 'half' } as RequestInit);
    expect(tooBig.status).toBe(413);
    expect((await errorOf(tooBig)).error.message).toContain('MAX_UPLOAD_BYTES');
    const leftovers = (await import('node:fs')).readdirSync(join(dir, 'processing')).filter((n) => n.endsWith('.tmp') || n.endsWith('big.csv'));
    expect(leftovers).toEqual([]);
  });

  it('400 for a multipart body with two file parts, and nothing of it stored or queued', async () => {
    const rowsBefore = await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`);
    const queuedBefore = (await queuedIds()).length;
    const csv = 'ts,device,co,humidity,light,lpg,motion,smoke,temp\n"1594512094.3859746","b8:27:eb:bf:9d:51","0.0049","51","False","0.0076","False","0.0204","21.1"\n';
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'first.csv');
    form.append('file', new Blob([csv.replace('21.1', '21.2')], { type: 'text/csv' }), 'second.csv');
    const res = await post('/ingest/files', form);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.message).toContain('one file per request');
    expect(await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`)).toEqual(rowsBefore);
    expect((await queuedIds()).length).toBe(queuedBefore);
    expect(readdirSync(join(dir, 'processing')).filter((n) => n.includes('first.csv') || n.includes('second.csv') || n.endsWith('.tmp'))).toEqual([]);
  });

  it('an upload whose client goes away mid-stream leaves no temp file and no open descriptor (chunked and multipart)', async () => {
    const processing = join(dir, 'processing');
    const tmpFiles = () => readdirSync(processing).filter((n) => n.endsWith('.tmp'));
    /** Descriptors of this process (which runs the ingest-api) open on a file of processing/. */
    const openInProcessing = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(join('/proc/self/fd', fd)).startsWith(processing);
        } catch {
          return false; // closed while listing
        }
      });
    const until = async (what: string, cond: () => boolean) => {
      for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
      if (!cond()) throw new Error(`timed out waiting until ${what}`);
    };
    const abortMidStream = async (path: string, headers: Record<string, string>, head: Buffer) => {
      const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, ...headers } });
      req.on('error', () => undefined);
      req.write(head);
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(64 * 1024, 'a'));
      await until('the upload is being written', () => tmpFiles().length > 0);
      req.destroy();
    };
    const rowsBefore = await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`);
    for (let i = 0; i < 3; i++) await abortMidStream('/ingest/files?filename=chunked.csv', { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' }, Buffer.from('ts,value\n'));
    const boundary = 'sluice-test-boundary';
    const partHead = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="multi.csv"\r\ncontent-type: text/csv\r\n\r\nts,value\n`);
    for (let i = 0; i < 3; i++) await abortMidStream('/ingest/files', { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(900 * 1024) }, partHead);
    await until('every aborted upload is cleaned up', () => tmpFiles().length === 0 && openInProcessing().length === 0);
    expect(tmpFiles()).toEqual([]);
    expect(openInProcessing()).toEqual([]);
    expect(await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`)).toEqual(rowsBefore);
  });

  it('GET /ingest/{raw_id}: 404 for an unknown id, 400 for a malformed one', async () => {
    const unknown = await fetch(`${base}/ingest/6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1e7c30`, { headers: { 'x-api-key': KEY } });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).error.message).toContain('6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1e7c30');
    const bad = await fetch(`${base}/ingest/not-a-uuid`, { headers: { 'x-api-key': KEY } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).error.message).toContain('raw_id');
  });

  it('POST /files/{id}/replay refuses a queued file (409) and an unknown one (404); POST /process re-drives', async () => {
    const doc = JSON.stringify({ time_stamp: '2019-05-05T06:00:00-04:00', data: [5] });
    const { raw_id } = (await (await postJson(doc)).json()) as { raw_id: string };
    const queued = await post(`/files/${raw_id}/replay`, undefined);
    expect(queued.status).toBe(409);
    expect((await errorOf(queued)).error).toMatchObject({ code: 'conflict', details: { reason: 'not_replayable' } });
    expect((await post('/files/6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1e7c30/replay', undefined)).status).toBe(404);

    await app.get(DataSource).query(`UPDATE ingest_files SET status = 'quarantined', finished_at = now() WHERE id = $1`, [raw_id]);
    const replayed = await post(`/files/${raw_id}/replay`, undefined);
    expect(replayed.status).toBe(202);
    expect(await replayed.json()).toMatchObject({ raw_id, status: 'queued', replays: 1 });

    await app.get(DataSource).query(`UPDATE ingest_files SET updated_at = now() - interval '1 hour' WHERE id = $1`, [raw_id]);
    const processed = await post('/process?older_than_ms=60000', undefined);
    expect(processed.status).toBe(200);
    expect(await processed.json()).toMatchObject({ redriven: [raw_id], replayed: [] });
    const badParam = await post('/process?older_than_ms=soon', undefined);
    expect(badParam.status).toBe(400);
    expect((await errorOf(badParam)).error.message).toContain('older_than_ms');
  });

  it('POST /files/{id}/replay of a payload whose body retention removed: 409 file_expired with the time it was removed', async () => {
    const doc = JSON.stringify({ time_stamp: '2019-05-06T06:00:00-04:00', data: [6] });
    const { raw_id } = (await (await postJson(doc)).json()) as { raw_id: string };
    await app.get(DataSource).query(`UPDATE ingest_files SET status = 'processed', finished_at = now() - interval '400 days' WHERE id = $1`, [raw_id]);
    expect((await app.get(StoredPayloads).sweepExpired(new Date(Date.now() - 365 * 86400_000))).items).toBe(1);
    const [{ expired_at }] = (await ledger(raw_id)) as Array<{ expired_at: Date }>;

    const refused = await post(`/files/${raw_id}/replay`, undefined);
    expect(refused.status).toBe(409);
    expect((await errorOf(refused)).error).toMatchObject({
      code: 'file_expired',
      message: expect.stringContaining('removed by retention'),
      details: { reason: 'file_expired', id: raw_id, expiredAt: new Date(expired_at).toISOString() },
    });
    expect((await ledger(raw_id))[0]).toMatchObject({ status: 'processed' });
  });

  it('serves an OpenAPI document that validates, with every endpoint, the seed example and the errors', async () => {
    const doc = (await (await fetch(`${base}/docs-json`)).json()) as Record<string, unknown>;
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    const paths = doc['paths'] as Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> } }>>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/ingest', '/ingest/files', '/ingest/{raw_id}', '/process', '/files/{id}/replay']));
    const ingest = paths['/ingest']['post'];
    expect(Object.keys(ingest.responses).sort()).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413', '415', '422', '429', '503']));
    expect(ingest.requestBody?.content['application/json'].examples?.['measurement'].value).toEqual(JSON.parse(SEED.toString('utf8')));
    // The endpoints that write to the drop folder document their 503 for a disk below MIN_FREE_DISK.
    for (const path of ['/ingest', '/ingest/files']) {
      expect((paths[path]['post'].responses['503'] as { description: string }).description).toMatch(/^`disk_low` \(with `Retry-After`, seconds\).*MIN_FREE_DISK.*`service_unavailable`/s);
    }
    expect(JSON.stringify(paths['/files/{id}/replay']['post'].responses['409'])).toContain('file_expired');
  });

  it('503 while PostgreSQL refuses connections: nothing is stored or queued, and the same payload is accepted once it is back', async () => {
    const body = Buffer.from(SEED.toString('utf8').replace('2019-05-01T06:00:00-04:00', '2033-03-03T03:03:03Z'));
    const rowsBefore = await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`);
    const queuedBefore = (await queuedIds()).length;
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      // The database goes away under the running service: new connections are refused and open ones are cut.
      await admin.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [db.name]);
      const refused = await postJson(body);
      expect(refused.status).toBe(503);
      expect((await errorOf(refused)).error).toEqual({ code: 'service_unavailable', message: expect.stringMatching(/could not be stored durably.*nothing was accepted.*retry/), details: null });
    } finally {
      await admin.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    const accepted = await postJson(body);
    expect(accepted.status).toBe(202);
    const { raw_id } = (await accepted.json()) as { raw_id: string };
    expect(await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`)).toEqual([{ n: rowsBefore[0].n + 1 }]);
    expect(await storedBytes((await ledger(raw_id))[0])).toEqual(body);
    const queued = await queuedIds();
    expect(queued.slice(queuedBefore)).toEqual([raw_id]);
  });
});

describe('ingest-api limits and start-up', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('ingestlimit');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'));
  });
  afterAll(async () => {
    await shutdown(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('429 with Retry-After once a key passes INGEST_RATE_LIMIT', async () => {
    let base: string;
    ({ app, base } = await boot(db, dir, { INGEST_RATE_LIMIT: '1', INGEST_RATE_BURST: '2' }));
    const send = () => fetch(`${base}/ingest`, { method: 'POST', body: '{"hello":1}', headers: { 'x-api-key': KEY, 'content-type': 'application/json' } });
    const statuses = [(await send()).status, (await send()).status];
    expect(statuses).toEqual([422, 422]);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as ErrorBody).error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('INGEST_RATE_LIMIT') });
  });

  it('refuses to start without INGEST_API_KEYS unless ALLOW_ANONYMOUS=true', () => {
    expect(() => IngestApiModule.forRoot({ DATABASE_URL: db.url, DROPZONE_DIR: dir })).toThrow(/INGEST_API_KEYS/);
    expect(() => IngestApiModule.forRoot({ DATABASE_URL: db.url, DROPZONE_DIR: dir, ALLOW_ANONYMOUS: 'true' })).not.toThrow();
    expect(() => IngestApiModule.forRoot({ INGEST_API_KEYS: 'k', MAX_UPLOAD_BYTES: 'lots' })).toThrow(/MAX_UPLOAD_BYTES/);
  });
});
