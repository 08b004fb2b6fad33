import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { createTestDatabase, waitFor, type TestDatabase } from '@sluice/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { BodyBudget } from './body-budget';
import { INGEST_KEY, INLINE_MAX, startIngestApi, stopIngestApi } from '../../test/ingest-api-harness';

jest.setTimeout(60000);

const KEY = INGEST_KEY;

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> | null };
}

const boot = startIngestApi;
const shutdown = stopIngestApi;

const measurement = (day: number, value: number) => JSON.stringify({ time_stamp: `2021-03-${String(day).padStart(2, '0')}T06:00:00Z`, data: [value] });
const csv = (temp: string) => `ts,device,co,humidity,light,lpg,motion,smoke,temp\n"1594512094.3859746","b8:27:eb:bf:9d:51","0.0049","51","False","0.0076","False","0.0204","${temp}"\n`;

describe('ingest-api requests (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication;
  let base: string;

  const post = (path: string, body: NonNullable<RequestInit['body']>, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { method: 'POST', body, headers: { 'x-api-key': KEY, ...headers } });
  const postJson = (body: string, headers: Record<string, string> = {}) => post('/ingest', body, { 'content-type': 'application/json', ...headers });
  const upload = (name: string, content: string, key: string) => post(`/ingest/files?filename=${name}`, content, { 'content-type': 'text/csv', 'idempotency-key': key });
  const multipart = (name: string, content: string, key: string) => {
    const form = new FormData();
    form.append('file', new Blob([content], { type: 'text/csv' }), name);
    return post('/ingest/files', form, { 'idempotency-key': key });
  };
  const rawIdOf = async (res: Response) => ((await res.json()) as { raw_id: string }).raw_id;
  const rows = async () => ((await app.get(DataSource).query(`SELECT count(*)::int AS n FROM ingest_files`)) as Array<{ n: number }>)[0].n;
  const expectReused = async (res: Response, key: string, rawId: string) => {
    expect(res.status).toBe(422);
    const { error } = (await res.json()) as ErrorBody;
    expect(error).toEqual({ code: 'idempotency_key_reused', message: expect.stringContaining(`"${key}"`), details: { idempotency_key: key, raw_id: rawId } });
  };

  beforeAll(async () => {
    db = await createTestDatabase('ingestreq');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingestreq-'));
    ({ app, base } = await boot(db, dir));
  });
  afterAll(async () => {
    await shutdown(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('an Idempotency-Key sent again', () => {
    it('with another JSON body is refused with 422 naming the key; the same body still replays the first raw_id', async () => {
      const first = await postJson(measurement(1, 1), { 'idempotency-key': 'pay-1' });
      expect(first.status).toBe(202);
      const rawId = await rawIdOf(first);
      const before = await rows();
      await expectReused(await postJson(measurement(1, 2), { 'idempotency-key': 'pay-1' }), 'pay-1', rawId);
      expect(await rows()).toBe(before);
      const again = await postJson(measurement(1, 1), { 'idempotency-key': 'pay-1' });
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await rawIdOf(again)).toBe(rawId);
    });

    it('with a body over INGEST_INLINE_MAX_BYTES (written to processing/) behaves the same', async () => {
      const big = (v: number) => JSON.stringify({ time_stamp: '2021-03-02T06:00:00Z', data: Array.from({ length: 2000 }, () => v + 0.125) });
      expect(big(1).length).toBeGreaterThan(INLINE_MAX);
      const rawId = await rawIdOf(await postJson(big(1), { 'idempotency-key': 'big-1' }));
      await expectReused(await postJson(big(2), { 'idempotency-key': 'big-1' }), 'big-1', rawId);
      expect(await rawIdOf(await postJson(big(1), { 'idempotency-key': 'big-1' }))).toBe(rawId);
    });

    it('with the same bytes on /ingest/files is another request', async () => {
      const line = JSON.stringify({ kind: 'measurement', time_stamp: '2021-03-03T06:00:00Z', data: [1] });
      const ndjson = await post('/ingest', line, { 'content-type': 'application/x-ndjson', 'idempotency-key': 'fmt-1' });
      expect(ndjson.status).toBe(202);
      const rawId = await rawIdOf(ndjson);
      await expectReused(await upload('line.ndjson', line, 'fmt-1'), 'fmt-1', rawId);
      expect(await rawIdOf(await post('/ingest', line, { 'content-type': 'application/x-ndjson', 'idempotency-key': 'fmt-1' }))).toBe(rawId);
    });

    it('on a raw upload with another file, or another file name, is refused; the same file replays', async () => {
      const rawId = await rawIdOf(await upload('a.csv', csv('20.1'), 'up-1'));
      await expectReused(await upload('a.csv', csv('20.2'), 'up-1'), 'up-1', rawId);
      await expectReused(await upload('b.csv', csv('20.1'), 'up-1'), 'up-1', rawId);
      const again = await upload('a.csv', csv('20.1'), 'up-1');
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await rawIdOf(again)).toBe(rawId);
    });

    it('on a multipart upload with another file is refused; the same file (multipart or raw) replays', async () => {
      const rawId = await rawIdOf(await multipart('m.csv', csv('21.1'), 'mp-1'));
      await expectReused(await multipart('m.csv', csv('21.2'), 'mp-1'), 'mp-1', rawId);
      expect(await rawIdOf(await multipart('m.csv', csv('21.1'), 'mp-1'))).toBe(rawId);
      expect(await rawIdOf(await upload('m.csv', csv('21.1'), 'mp-1'))).toBe(rawId);
    });

    it('concurrently with different bodies stores one of them; the others are refused, none is lost silently', async () => {
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => postJson(measurement(4, i), { 'idempotency-key': 'race-diff' })));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 202)).toHaveLength(1);
      expect(statuses.filter((s) => s === 422)).toHaveLength(5);
      const [stored] = (await app.get(DataSource).query(`SELECT raw_id FROM ingest_idempotency_keys WHERE idempotency_key = 'race-diff'`)) as Array<{ raw_id: string }>;
      for (const r of answers.filter((a) => a.status === 422)) expect(((await r.json()) as ErrorBody).error.details).toEqual({ idempotency_key: 'race-diff', raw_id: stored.raw_id });
    });

    it('stored before request digests were kept keeps replaying whatever is sent, until it expires', async () => {
      const rawId = await rawIdOf(await postJson(measurement(5, 1), { 'idempotency-key': 'legacy' }));
      await app.get(DataSource).query(`UPDATE ingest_idempotency_keys SET request_sha256 = NULL WHERE idempotency_key = 'legacy'`);
      const other = await postJson(measurement(5, 2), { 'idempotency-key': 'legacy' });
      expect(other.status).toBe(202);
      expect(await rawIdOf(other)).toBe(rawId);
      expect(await rawIdOf(await upload('legacy.csv', csv('22.2'), 'legacy'))).toBe(rawId);
    });
  });

  describe('a multipart body with many fields before its file part', () => {
    const form = (fields: number) => {
      const f = new FormData();
      for (let i = 0; i < fields; i++) f.append(`note${i}`, `value ${i}`);
      f.append('file', new Blob([csv(`23.${fields}`)], { type: 'text/csv' }), `fields-${fields}.csv`);
      return f;
    };

    it('is accepted with 20 fields, and refused past 20 saying so, not as "no field named file"', async () => {
      expect((await post('/ingest/files', form(20))).status).toBe(202);
      const before = await rows();
      const many = await post('/ingest/files', form(25));
      expect(many.status).toBe(400);
      const { error } = (await many.json()) as ErrorBody;
      expect(error.code).toBe('invalid_parameter');
      expect(error.message).toMatch(/more than 20 fields before its "file" part/);
      expect(error.message).not.toMatch(/no field named/);
      expect(await rows()).toBe(before);
    });

    it('is accepted when the fields come after the file part', async () => {
      const f = new FormData();
      f.append('file', new Blob([csv('24.1')], { type: 'text/csv' }), 'fields-after.csv');
      for (let i = 0; i < 25; i++) f.append(`note${i}`, `value ${i}`);
      expect((await post('/ingest/files', f)).status).toBe(202);
    });
  });
});

/** A raw connection that records what the server sent and whether it closed. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, received: () => Buffer.concat(chunks).toString(), closed: () => closed }));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.once('error', reject);
  });
}

describe('ingest-api HTTP server bounds (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication | undefined;
  let port: number;
  const MAX_CONNECTIONS = 12;

  beforeAll(async () => {
    db = await createTestDatabase('ingestbounds');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingestbounds-'));
    let base: string;
    ({ app, base } = await boot(db, dir, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS) }));
    port = Number(new URL(base).port);
  });
  afterAll(async () => {
    await shutdown(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes slowloris connections (headers trickled in) with a 408 once HTTP_HEADERS_TIMEOUT_MS has passed', async () => {
    const conns = await Promise.all(Array.from({ length: 10 }, () => rawConnection(port)));
    for (const c of conns) c.socket.write('POST /ingest HTTP/1.1\r\nHost: localhost\r\n');
    // One more header line now and then, never the blank line that ends them (bounded: the test stops it).
    let n = 0;
    const trickle = setInterval(() => {
      n++;
      for (const c of conns) if (!c.closed()) c.socket.write(`X-Slow-${n}: ${n}\r\n`);
    }, 200);
    try {
      await waitFor('every slowloris connection closed by the server', async () => conns.every((c) => c.closed()), 20000, 100);
    } finally {
      clearInterval(trickle);
      for (const c of conns) c.socket.destroy();
    }
    for (const c of conns) {
      expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(c.received().split('\r\n\r\n')[1])).toEqual({ error: { code: 'request_timeout', message: expect.stringContaining('did not arrive in time'), details: null } });
    }
  });

  it('closes connections past HTTP_MAX_CONNECTIONS at once, and serves again once they are gone', async () => {
    const open = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => rawConnection(port)));
    const server = (app as INestApplication).getHttpServer() as { getConnections(cb: (e: Error | null, n: number) => void): void };
    const count = () => new Promise<number>((r) => server.getConnections((_, n) => r(n)));
    await waitFor('the server holds every allowed connection', async () => (await count()) >= MAX_CONNECTIONS, 10000, 50);
    const extra = await rawConnection(port);
    await waitFor('the connection past the bound closed', async () => extra.closed(), 10000, 50);
    expect(extra.received()).toBe('');
    expect(open.some((c) => c.closed())).toBe(false);
    for (const c of open) c.socket.destroy();
    await waitFor('the connections gone', async () => (await count()) === 0, 10000, 50);
    const res = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(res.status).toBe(200);
  });
});

describe('ingest-api bodies held in memory at once (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication | undefined;
  let base: string;
  const BUDGET = 100_000;

  beforeAll(async () => {
    db = await createTestDatabase('ingestbudget');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingestbudget-'));
    ({ app, base } = await boot(db, dir, { INGEST_BODY_MEMORY_BYTES: String(BUDGET), INGEST_BODY_WAIT_MS: '30000', MAX_INGEST_BODY_BYTES: '80000' }));
  });
  afterAll(async () => {
    await shutdown(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A measurement of exactly `size` bytes. */
  const bodyOf = (size: number, day: number) => {
    const head = `{"time_stamp":"2021-04-${String(day).padStart(2, '0')}T06:00:00Z","data":[1`;
    return Buffer.from(head + ' '.repeat(size - head.length - 2) + ']}');
  };
  /** A POST /ingest whose body is sent only up to `sent` bytes until `finish` is called. */
  const slowPost = (body: Buffer, sent: number) => {
    let req!: ClientRequest;
    const answer = new Promise<{ status: number; retryAfter?: string; text: string }>((resolve, reject) => {
      req = httpRequest(`${base}/ingest`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'content-length': String(body.length) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, text }));
      });
      req.on('error', reject);
      req.write(body.subarray(0, sent));
    });
    return { answer, finish: () => req.end(body.subarray(sent)) };
  };
  const postWhole = (body: Buffer) => {
    const p = slowPost(body, body.length);
    p.finish();
    return p.answer;
  };

  it('reads no more than INGEST_BODY_MEMORY_BYTES of bodies at once: the others wait their turn, then are stored', async () => {
    const budget = (app as INestApplication).get(BodyBudget);
    const posts = [1, 2, 3].map((day) => slowPost(bodyOf(60_000, day), 1000));
    await waitFor('one body admitted and two waiting', async () => budget.inUse > 0 && budget.queued === 2, 10000, 20);
    expect(budget.inUse).toBe(60_000);
    for (const p of posts) p.finish();
    const answers = await Promise.all(posts.map((p) => p.answer));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(budget.inUse).toBe(0);
  });

  it('answers 503 with Retry-After when a body waited INGEST_BODY_WAIT_MS in vain; the budget is whole again after', async () => {
    await shutdown(app);
    ({ app, base } = await boot(db, dir, { INGEST_BODY_MEMORY_BYTES: String(BUDGET), INGEST_BODY_WAIT_MS: '300', MAX_INGEST_BODY_BYTES: '80000' }));
    const budget = (app as INestApplication).get(BodyBudget);
    const holder = slowPost(bodyOf(70_000, 10), 1000);
    await waitFor('the first body admitted', async () => budget.inUse === 70_000, 10000, 20);
    const refused = await postWhole(bodyOf(70_000, 11));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'service_unavailable', message: expect.stringContaining('INGEST_BODY_MEMORY_BYTES') } });
    holder.finish();
    expect((await holder.answer).status).toBe(202);
    expect(budget.inUse).toBe(0);
    expect((await postWhole(bodyOf(70_000, 11))).status).toBe(202);
  });
});
