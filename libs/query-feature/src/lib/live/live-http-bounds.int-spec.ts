import { createTestDatabase, startServiceApi, testNamespace, waitFor, type ServiceApi, type TestDatabase } from '@sluice/testing';
import { get } from 'node:http';
import { connect } from 'node:net';
import { QUERY_API } from '../../../test/query-api-harness';
import { HEARTBEAT_MS } from './live.controller';

jest.setTimeout(90_000);

const KEY = 'qk-bounds-secret';

/** The query-api under short HTTP timeouts: they bound requests, never an `/events` stream. */
describe('query-api HTTP server bounds and /events (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let api: ServiceApi | undefined;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase('query_bounds');
    api = await startServiceApi(QUERY_API, {
      DATABASE_URL: db.url,
      NATS_NAMESPACE: testNamespace('qbounds'),
      QUERY_API_KEYS: KEY,
      INGEST_API_KEYS: 'ik',
      HTTP_HEADERS_TIMEOUT_MS: '500',
      HTTP_REQUEST_TIMEOUT_MS: '1000',
      HTTP_IDLE_TIMEOUT_MS: String(HEARTBEAT_MS + 5000),
    });
    ({ port } = api);
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('an /events stream outlives HTTP_REQUEST_TIMEOUT_MS and stays open to its heartbeat', async () => {
    let text = '';
    let ended = false;
    const req = get({ host: '127.0.0.1', port, path: '/events', headers: { 'x-api-key': KEY } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('close', () => (ended = true));
    });
    req.on('error', () => (ended = true));
    try {
      await waitFor('the stream connected', async () => text.includes(': connected') || ended, 10_000, 20);
      // The heartbeat comes HEARTBEAT_MS after the connection, far past the request timeout.
      await waitFor('a heartbeat on the stream', async () => text.includes(': heartbeat') || ended, HEARTBEAT_MS + 10_000, 100);
      expect(ended).toBe(false);
      expect(text).toContain(': heartbeat');
    } finally {
      req.destroy();
    }
  });

  it('a client that never ends its headers gets a 408 in the API error format', async () => {
    let received = '';
    let closed = false;
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /stats HTTP/1.1\r\nHost: localhost\r\n'));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    try {
      await waitFor('the server closed the slow connection', async () => closed, 15_000, 50);
    } finally {
      socket.destroy();
    }
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(received.split('\r\n\r\n')[1])).toMatchObject({ error: { code: 'request_timeout' } });
  });
});
