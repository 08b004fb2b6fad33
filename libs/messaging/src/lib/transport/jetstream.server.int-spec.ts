import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CommonConfig, loadConfig } from '@sluice/config';
import { BatchSubjects, FileBatchQueuedMessage, FileQueuedMessage, FileSubjects, type FileSubject } from '@sluice/contracts';
import { SHARED_NATS_URL, startHybridApp, testNamespace, waitFor } from '@sluice/testing';
import { randomUUID } from 'node:crypto';
import { JetStreamService } from '../jetstream.service';
import { AttemptPolicy } from './attempt-policy';
import { JetStreamContext } from './jetstream.context';
import { JetStreamController, Payloads, type JetStreamHandlerOptions } from './jetstream.decorators';
import { JETSTREAM_TRANSPORT, JetStreamServer, type JetStreamStatus } from './jetstream.server';
import { GiveUp, RetryLater } from './outcomes';

jest.setTimeout(60000);

const ACK_WAIT_MS = 2000;
const BATCH_SIZE = 5;

/** What the handlers of the app under test do; each test sets its own. */
const behaviour: {
  queued(m: FileQueuedMessage, ctx: JetStreamContext): Promise<void>;
  batch(ms: FileBatchQueuedMessage[], ctx: JetStreamContext): Promise<void>;
} = { queued: async () => undefined, batch: async () => undefined };

@JetStreamController()
class Handlers {
  @EventPattern<FileSubject>(FileSubjects.queued)
  queued(@Payload() m: FileQueuedMessage, @Ctx() ctx: JetStreamContext): Promise<void> {
    return behaviour.queued(m, ctx);
  }

  // A long linger: a call starts once BATCH_SIZE messages wait, so the batch test sees them in one call.
  @EventPattern<FileSubject>(BatchSubjects.queued, { durable: 'batches', batch: { maxMessages: BATCH_SIZE, lingerMs: 30000, fits: () => true } } satisfies JetStreamHandlerOptions)
  batch(@Payloads(FileBatchQueuedMessage) ms: FileBatchQueuedMessage[], @Ctx() ctx: JetStreamContext): Promise<void> {
    return behaviour.batch(ms, ctx);
  }
}

@Module({ controllers: [Handlers] })
class HandlersModule {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(JetStreamServer.name, () => {
  let namespace: string;
  let js: JetStreamService;
  const running: Array<{ app: INestApplication; js: JetStreamService }> = [];

  const connect = async (name: string) => {
    const service = new JetStreamService(loadConfig(CommonConfig, { NATS_URL: SHARED_NATS_URL, NATS_NAMESPACE: namespace }));
    await service.connect(name);
    return service;
  };

  /** A service with the handlers above on the transport, as a hybrid app. */
  async function start(maxDeliver: number | AttemptPolicy = 5, prepare?: (server: JetStreamServer) => void): Promise<{ app: INestApplication; js: JetStreamService }> {
    const own = await connect('transport-spec-app');
    const attempts = typeof maxDeliver === 'number' ? new AttemptPolicy(maxDeliver) : maxDeliver;
    const subjects = [FileSubjects.queued, BatchSubjects.queued];
    const app = await startHybridApp(HandlersModule, () => {
      const server = new JetStreamServer(own, { subjects, durable: 'work', concurrency: 2, ackWaitMs: ACK_WAIT_MS, attempts });
      prepare?.(server);
      return server;
    });
    running.push({ app, js: own });
    return { app, js: own };
  }

  async function pending(durable = 'work'): Promise<{ waiting: number; unacked: number }> {
    const info = await js.jsm.consumers.info(js.stream, durable);
    return { waiting: info.num_pending, unacked: info.num_ack_pending };
  }
  const settled = async (durable = 'work') => {
    const p = await pending(durable);
    return p.waiting + p.unacked === 0;
  };

  beforeEach(async () => {
    namespace = testNamespace('transport');
    js = await connect('transport-spec');
    behaviour.queued = async () => undefined;
    behaviour.batch = async () => undefined;
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      await r.app.close();
      await r.js.onApplicationShutdown();
    }
    await js.jsm.streams.delete(js.stream);
    await js.onApplicationShutdown();
  });

  it('delivers each published message once and drops a republished msgId', async () => {
    const seen: string[] = [];
    behaviour.queued = async (m) => void seen.push(m.fileId);
    await start();
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) await js.publish(FileSubjects.queued, { fileId: id }, id);
    await js.publish(FileSubjects.queued, { fileId: ids[0] }, ids[0]);
    await waitFor('all acked', async () => seen.length >= 3 && (await settled()));
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('acks only after the handler resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    let committed = false;
    behaviour.queued = async () => {
      started = true;
      await gate;
      committed = true;
    };
    await start();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('handler started', async () => started);
    // Longer than ack_wait: the heartbeat keeps it, and it is still unacked while the handler has not resolved.
    await sleep(ACK_WAIT_MS * 1.5);
    expect(await pending()).toEqual({ waiting: 0, unacked: 1 });
    release();
    await waitFor('acked after the handler resolved', () => settled());
    expect(committed).toBe(true);
  });

  it('redelivers a message whose service crashed mid-handler to another one', async () => {
    const id = randomUUID();
    const deliveries: Array<{ app: number; count: number }> = [];
    let unhang!: () => void;
    const hang = new Promise<void>((r) => (unhang = r));
    behaviour.queued = async (_m, ctx) => {
      deliveries.push({ app: running.length, count: ctx.getDeliveryCount() });
      if (deliveries.length === 1) await hang;
    };
    const first = await start();
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('first delivery', async () => deliveries.length === 1);
    // A crash: the connection is gone without an ack, a nak or further heartbeats.
    await (first.js as unknown as { nc: { close(): Promise<void> } }).nc.close();
    await start();
    await waitFor('redelivered after ack_wait and acked', async () => deliveries.length === 2 && (await settled()), 20000);
    unhang();
    expect(deliveries).toEqual([
      { app: 1, count: 1 },
      { app: 2, count: 2 },
    ]);
  });

  it('naks a failed attempt with backoff and acks once a retry succeeds', async () => {
    const counts: number[] = [];
    behaviour.queued = async (_m, ctx) => {
      counts.push(ctx.getDeliveryCount());
      if (ctx.getDeliveryCount() < 2) throw new Error('transient');
    };
    await start();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('second attempt acked', async () => counts.length === 2 && (await settled()), 15000);
    expect(counts).toEqual([1, 2]);
  });

  it('redelivers on retryLater without calling it a failure', async () => {
    const counts: number[] = [];
    behaviour.queued = async (_m, ctx) => {
      counts.push(ctx.getDeliveryCount());
      if (counts.length === 1) throw new RetryLater(100);
    };
    await start();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('acked on the second delivery', async () => counts.length === 2 && (await settled()), 15000);
    expect(counts).toEqual([1, 2]);
  });

  it('never drops a message for "not now" answers: past its last delivery it comes back as a new message', async () => {
    const deliveries: number[] = [];
    behaviour.queued = async (_m, ctx) => {
      deliveries.push(ctx.getDeliveryCount());
      // Held elsewhere for more deliveries than max_deliver allows one message.
      if (deliveries.length <= 5) throw new RetryLater(100);
    };
    await start(2);
    const id = randomUUID();
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('handled once the work is free', async () => deliveries.length === 6 && (await settled()), 20000);
    // Each new message starts again at delivery 1.
    expect(deliveries).toEqual([1, 2, 1, 2, 1, 2]);
  });

  it('stops at max_deliver: the last delivery records `failed`, then the message is terminated', async () => {
    const failed: string[] = [];
    let calls = 0;
    behaviour.queued = async (m, ctx) => {
      calls++;
      if (ctx.isLastDelivery()) failed.push(m.fileId);
      throw new Error('poison');
    };
    await start(2);
    const id = randomUUID();
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('terminated', async () => failed.length === 1 && (await settled()), 15000);
    await sleep(ACK_WAIT_MS * 1.5);
    expect(failed).toEqual([id]);
    expect(calls).toBe(2);
  });

  it.each([1, 2])('follows its attempt policy: with %i attempt(s) and a spare delivery, max_deliver and the deliveries of a failing message follow', async (maxAttempts) => {
    const counts: number[] = [];
    const last: boolean[] = [];
    behaviour.queued = async (_m, ctx) => {
      counts.push(ctx.getDeliveryCount());
      last.push(ctx.isLastDelivery());
      throw new Error('poison');
    };
    await start(new AttemptPolicy(maxAttempts, { spareDelivery: true }));
    expect((await js.jsm.consumers.info(js.stream, 'work')).config.max_deliver).toBe(maxAttempts + 1);
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('terminated', async () => counts.length === maxAttempts + 1 && (await settled()), 15000);
    await sleep(ACK_WAIT_MS * 1.5);
    expect(counts).toEqual(Array.from({ length: maxAttempts + 1 }, (_, i) => i + 1));
    expect(last).toEqual(counts.map((_, i) => i === maxAttempts));
  });

  it('terminates a message at once when its handler gives up', async () => {
    let calls = 0;
    behaviour.queued = async () => {
      calls++;
      throw new GiveUp('nothing left to try');
    };
    await start(5);
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('terminated', async () => calls === 1 && (await settled()), 10000);
    await sleep(ACK_WAIT_MS * 1.5);
    expect(calls).toBe(1);
  });

  it("runs handlers between Nest's processing hooks under its transport id, and reports its status", async () => {
    const hooks: string[] = [];
    let server!: JetStreamServer;
    const statuses: JetStreamStatus[] = [];
    behaviour.queued = async () => void hooks.push('handler');
    await start(5, (s) => {
      server = s;
      s.setOnProcessingStartHook((transportId, _ctx, done) => {
        hooks.push(transportId === JETSTREAM_TRANSPORT ? 'start' : 'start with another transport id');
        void done();
      });
      s.setOnProcessingEndHook(() => void hooks.push('end'));
    });
    const subscription = server.status.subscribe((s) => statuses.push(s));
    expect(() => server.on('disconnect', () => undefined)).not.toThrow();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('acked', async () => hooks.includes('end') && (await settled()));
    subscription.unsubscribe();
    expect(hooks).toEqual(['start', 'handler', 'end']);
    expect(statuses).toEqual(['connected']);
  });

  it('terminates a payload that fails validation, or is not JSON, without calling the handler', async () => {
    let calls = 0;
    behaviour.queued = async () => void calls++;
    await start();
    await js.js.publish(js.subject(FileSubjects.queued), JSON.stringify({ fileId: 'not-a-uuid' }));
    await js.js.publish(js.subject(FileSubjects.queued), '{not json');
    await waitFor('invalid messages settled', () => settled(), 10000);
    expect(calls).toBe(0);
  });

  it('keeps a message whose handler outlasts ack_wait alive with heartbeats: one delivery, then acked', async () => {
    const counts: number[] = [];
    behaviour.queued = async (_m, ctx) => {
      counts.push(ctx.getDeliveryCount());
      await sleep(ACK_WAIT_MS * 2.5);
    };
    await start();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('acked', async () => counts.length > 0 && (await settled()), 20000);
    expect(counts).toEqual([1]);
  });

  it('hands messages waiting together to one batch call and acks them all', async () => {
    const calls: string[][] = [];
    behaviour.batch = async (ms, ctx) => {
      ctx.working();
      calls.push(ms.flatMap((m) => m.fileIds));
    };
    const ids = Array.from({ length: BATCH_SIZE }, () => randomUUID());
    // Published before the service starts, so all of them are waiting at its first pull.
    for (const id of ids) await js.publish(BatchSubjects.queued, { fileIds: [id], bytes: 10 }, id);
    await start();
    await waitFor('batch acked', async () => calls.length > 0 && (await settled('batches')), 20000);
    expect(calls).toEqual([ids]);
    expect(ids.every((id) => calls[0].includes(id))).toBe(true);
  });

  it('splits a batch holding an invalid message: the others are handled, that one terminated', async () => {
    const handled: string[] = [];
    behaviour.batch = async (ms) => void handled.push(...ms.flatMap((m) => m.fileIds));
    const ids = Array.from({ length: BATCH_SIZE - 1 }, () => randomUUID());
    for (const id of ids) await js.publish(BatchSubjects.queued, { fileIds: [id] }, id);
    await js.js.publish(js.subject(BatchSubjects.queued), JSON.stringify({ fileIds: ['nope'] }));
    await start();
    await waitFor('batch settled', async () => handled.length === ids.length && (await settled('batches')), 20000);
    expect(handled.sort()).toEqual([...ids].sort());
  });

  it('creates its stream and durable consumer again when they are lost (a server restarted without its store), and consumes on', async () => {
    const seen: string[] = [];
    behaviour.queued = async (m) => void seen.push(m.fileId);
    await start();
    const first = randomUUID();
    await js.publish(FileSubjects.queued, { fileId: first }, first);
    await waitFor('the first message handled', async () => seen.includes(first));
    await js.jsm.streams.delete(js.stream);
    await waitFor('the consumer made again', async () => (await js.jsm.consumers.info(js.stream, 'work').catch(() => null)) !== null, 30000, 100);
    const second = randomUUID();
    await js.publish(FileSubjects.queued, { fileId: second }, second);
    await waitFor('the message after the loss handled', async () => seen.includes(second));
  });

  it('lets in-flight handlers finish on close, and acks them', async () => {
    let finished = false;
    let started = false;
    behaviour.queued = async () => {
      started = true;
      await sleep(1000);
      finished = true;
    };
    const service = await start();
    await js.publish(FileSubjects.queued, { fileId: randomUUID() }, randomUUID());
    await waitFor('handler started', async () => started);
    await service.app.close();
    expect(finished).toBe(true);
    expect(await pending()).toEqual({ waiting: 0, unacked: 0 });
  });
});
