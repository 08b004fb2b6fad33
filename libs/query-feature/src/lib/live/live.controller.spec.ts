import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueryApiConfig } from '@sluice/config';
import type { LiveEventsService, LiveEvent, LiveSubscription } from './live-events.service';
import { HEARTBEAT_MS, LiveController } from './live.controller';
import type { LiveRepository } from './live.repository';

/** An event source the test feeds by hand. */
class FakeSubscription implements LiveSubscription {
  closed = 0;
  private push?: (e: IteratorResult<LiveEvent>) => void;
  readonly events: AsyncIterable<LiveEvent> = {
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<LiveEvent>>((r) => (this.push = r)) }),
  };
  emit(e: LiveEvent): void {
    this.push?.({ value: e, done: false });
  }
  async close(): Promise<void> {
    this.closed++;
    this.push?.({ value: undefined, done: true });
  }
}

class FakeResponse {
  head?: { status: number; headers: Record<string, string> };
  written: string[] = [];
  writableEnded = false;
  writeHead(status: number, headers: Record<string, string>) {
    this.head = { status, headers };
    return this;
  }
  write(chunk: string) {
    this.written.push(chunk);
    return true;
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

  it('resumes after a numeric Last-Event-ID and ignores anything else', async () => {
    for (const id of ['41', 'x', '-1', undefined]) {
      const req = new EventEmitter() as IncomingMessage;
      await sut.stream(req, new FakeResponse() as unknown as ServerResponse, id);
      req.emit('close');
    }
    expect(subscribedAfter).toEqual([41, undefined, undefined, undefined]);
  });
});
