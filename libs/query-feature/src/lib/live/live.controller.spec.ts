import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueryApiConfig } from '@sluice/config';
import { FeedOverrunError } from './live-feed';
import { type LiveEventsService, type LiveEvent, type LiveSubscription, TooManyLiveClientsError } from './live-events.service';
import { HEARTBEAT_MS, LiveController, SSE_RETRY_AFTER_S } from './live.controller';
import type { LiveRepository } from './live.repository';

/** An event source the test feeds by hand. */
class FakeSubscription implements LiveSubscription {
  closed = 0;
  private waiting?: { resolve: (e: IteratorResult<LiveEvent>) => void; reject: (e: Error) => void };
  readonly events: AsyncIterable<LiveEvent> = {
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<LiveEvent>>((resolve, reject) => (this.waiting = { resolve, reject })) }),
  };
  emit(e: LiveEvent): void {
    this.waiting?.resolve({ value: e, done: false });
  }
  /** The feed dropped this reader: the next read fails. */
  overrun(): void {
    this.waiting?.reject(new FeedOverrunError());
  }
  async close(): Promise<void> {
    this.closed++;
    this.waiting?.resolve({ value: undefined, done: true });
  }
}

class FakeResponse extends EventEmitter {
  head?: { status: number; headers: Record<string, string> };
  headers: Record<string, string> = {};
  written: string[] = [];
  writableEnded = false;
  /** A socket that cannot take more: write() says so, as a real one does past its high-water mark. */
  backedUp = false;
  get writableNeedDrain() {
    return this.backedUp;
  }
  setHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  writeHead(status: number, headers: Record<string, string>) {
    this.head = { status, headers };
    return this;
  }
  write(chunk: string) {
    this.written.push(chunk);
    return !this.backedUp;
  }
  end() {
    this.writableEnded = true;
  }
}

describe(LiveController.name, () => {
  let sub: FakeSubscription;
  let subscribedAfter: (number | undefined)[];
  let sut: LiveController;
  const flush = () => new Promise((r) => setImmediate(r));

  beforeEach(() => {
    sub = new FakeSubscription();
    subscribedAfter = [];
    const events = { subscribe: async (after?: number) => (subscribedAfter.push(after), sub) } as unknown as LiveEventsService;
    sut = new LiveController({} as LiveRepository, events, {} as QueryApiConfig);
  });
  afterEach(() => jest.useRealTimers());

  it('writes each event as an SSE frame with its sequence as id', async () => {
    const req = new EventEmitter() as IncomingMessage;
    const res = new FakeResponse();
    await sut.stream(req, res as unknown as ServerResponse);
    expect(res.head).toEqual({ status: 200, headers: expect.objectContaining({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' }) });
    sub.emit({ seq: 7, data: { fileId: 'f', status: 'queued', at: '2026-01-01T00:00:00.000Z' } });
    await flush();
    expect(res.written).toEqual(['retry: 2000\n: connected\n\n', 'id: 7\ndata: {"fileId":"f","status":"queued","at":"2026-01-01T00:00:00.000Z"}\n\n']);
    req.emit('close');
  });

  it(`sends a heartbeat comment every ${HEARTBEAT_MS / 1000} s and stops it when the client goes`, async () => {
    jest.useFakeTimers();
    const req = new EventEmitter() as IncomingMessage;
    const res = new FakeResponse();
    await sut.stream(req, res as unknown as ServerResponse);
    jest.advanceTimersByTime(HEARTBEAT_MS * 2);
    expect(res.written.filter((w) => w === ': heartbeat\n\n')).toHaveLength(2);
    req.emit('close');
    jest.advanceTimersByTime(HEARTBEAT_MS * 3);
    expect(res.written.filter((w) => w === ': heartbeat\n\n')).toHaveLength(2);
    expect(sub.closed).toBeGreaterThanOrEqual(1);
    expect(res.writableEnded).toBe(true);
  });

  it('answers 503 when no consumer can be opened (NATS down)', async () => {
    const down = { subscribe: async () => Promise.reject(new Error('TIMEOUT')) } as unknown as LiveEventsService;
    const res = new FakeResponse();
    const refused = new LiveController({} as LiveRepository, down, {} as QueryApiConfig).stream(new EventEmitter() as IncomingMessage, res as unknown as ServerResponse);
    await expect(refused).rejects.toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(res.head).toBeUndefined();
  });

  it('writes nothing more to a backed-up socket until it drains, and ends a client the feed dropped', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    const req = new EventEmitter() as IncomingMessage;
    const res = new FakeResponse();
    await sut.stream(req, res as unknown as ServerResponse);
    res.backedUp = true;
    sub.emit({ seq: 1, data: { fileId: 'f', status: 'queued', at: '2026-01-01T00:00:00.000Z' } });
    await flush();
    sub.emit({ seq: 2, data: { fileId: 'f', status: 'processing', originalName: 'f.csv', at: '2026-01-01T00:00:01.000Z' } });
    await flush();
    jest.advanceTimersByTime(HEARTBEAT_MS * 2);
    // The first event went to the socket's buffer; the second waits in the feed, and no heartbeat piles up.
    expect(res.written.filter((w) => w.startsWith('id: '))).toEqual([expect.stringContaining('"queued"')]);
    expect(res.written.filter((w) => w === ': heartbeat\n\n')).toHaveLength(0);
    res.backedUp = false;
    res.emit('drain');
    await flush();
    sub.emit({ seq: 2, data: { fileId: 'f', status: 'processing', originalName: 'f.csv', at: '2026-01-01T00:00:01.000Z' } });
    await flush();
    expect(res.written.filter((w) => w.startsWith('id: '))).toHaveLength(2);
    sub.overrun();
    await flush();
    expect(res.writableEnded).toBe(true);
    expect(sub.closed).toBeGreaterThanOrEqual(1);
  });

  it(`answers 503 with Retry-After beyond MAX_SSE_CLIENTS`, async () => {
    const full = { subscribe: async () => Promise.reject(new TooManyLiveClientsError(2000)) } as unknown as LiveEventsService;
    const res = new FakeResponse();
    const refused = new LiveController({} as LiveRepository, full, {} as QueryApiConfig).stream(new EventEmitter() as IncomingMessage, res as unknown as ServerResponse);
    await expect(refused).rejects.toMatchObject({ code: 'service_unavailable', status: 503, details: { max_clients: 2000, retry_after_seconds: SSE_RETRY_AFTER_S } });
    expect(res.headers['Retry-After']).toBe(String(SSE_RETRY_AFTER_S));
    expect(res.head).toBeUndefined();
  });

  it('resumes after a numeric Last-Event-ID and ignores anything else', async () => {
    for (const id of ['41', 'x', '-1', undefined]) {
      const req = new EventEmitter() as IncomingMessage;
      await sut.stream(req, new FakeResponse() as unknown as ServerResponse, id);
      req.emit('close');
    }
    expect(subscribedAfter).toEqual([41, undefined, undefined, undefined]);
  });
});
