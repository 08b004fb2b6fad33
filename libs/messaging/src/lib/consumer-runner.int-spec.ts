import 'reflect-metadata';
import { CommonConfig, loadConfig } from '@sluice/config';
import { FileQueuedMessage, FileSubjects } from '@sluice/contracts';
import { SHARED_NATS_URL, testNamespace, waitFor } from '@sluice/testing';
import { randomUUID } from 'node:crypto';
import { ConsumerRunner, type ConsumedMessage } from './consumer-runner';
import { JetStreamService } from './jetstream.service';

describe(ConsumerRunner.name, () => {
  let js: JetStreamService;
  const runners: ConsumerRunner<FileQueuedMessage>[] = [];

  beforeEach(async () => {
    js = new JetStreamService(loadConfig(CommonConfig, { NATS_URL: SHARED_NATS_URL, NATS_NAMESPACE: testNamespace('runner') }));
    await js.connect('consumer-runner-spec');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await js.jsm.streams.delete(js.stream);
    await js.onApplicationShutdown();
  });

  async function run(handle: (m: ConsumedMessage<FileQueuedMessage>) => Promise<{ ack: true } | { retryInMs: number }>, opts: { maxDeliver?: number; onExhausted?: (m: ConsumedMessage<FileQueuedMessage>) => Promise<void> } = {}) {
    await js.ensureDurableConsumer({ durable: 'work', subjects: [FileSubjects.queued], ackWaitMs: 2000, maxDeliver: opts.maxDeliver ?? 5 });
    const runner = new ConsumerRunner(js, {
      durable: 'work',
      subjects: [FileSubjects.queued],
      payloadClass: FileQueuedMessage,
      concurrency: 2,
      ackWaitMs: 2000,
      maxDeliver: opts.maxDeliver ?? 5,
      handle,
      onExhausted: opts.onExhausted,
    });
    runner.start();
    runners.push(runner);
  }

  async function pending(): Promise<number> {
    const info = await js.jsm.consumers.info(js.stream, 'work');
    return info.num_pending + info.num_ack_pending;
  }

  it('delivers each published file once and drops a republished msgId', async () => {
    const seen: string[] = [];
    await run(async (m) => {
      seen.push(m.payload.fileId);
      return { ack: true };
    });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) await js.publish(FileSubjects.queued, { fileId: id }, id);
    await js.publish(FileSubjects.queued, { fileId: ids[0] }, ids[0]);
    await waitFor('three deliveries', async () => seen.length >= 3);
    await waitFor('all acked', async () => (await pending()) === 0);
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('redelivers after a handler throws, and acks once it succeeds', async () => {
    const id = randomUUID();
    let calls = 0;
    await run(async (m) => {
      calls++;
      if (m.deliveryCount < 2) throw new Error('transient');
      return { ack: true };
    });
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('second attempt acked', async () => calls === 2 && (await pending()) === 0, 15000);
    expect(calls).toBe(2);
  });

  it('records exhaustion after the last attempt and stops redelivering', async () => {
    const id = randomUUID();
    const exhausted: string[] = [];
    let calls = 0;
    await run(
      async () => {
        calls++;
        throw new Error('poison');
      },
      { maxDeliver: 2, onExhausted: async (m) => void exhausted.push(m.payload.fileId) },
    );
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('exhausted', async () => exhausted.length === 1, 15000);
    expect(exhausted).toEqual([id]);
    expect(calls).toBe(2);
  });

  it('never drops a message for "not now" answers: past its last delivery it comes back as a new message', async () => {
    const id = randomUUID();
    const deliveries: number[] = [];
    let exhausted = 0;
    await run(
      async (m) => {
        deliveries.push(m.deliveryCount);
        // Held elsewhere for more deliveries than max_deliver allows one message.
        return deliveries.length <= 5 ? { retryInMs: 100 } : { ack: true };
      },
      { maxDeliver: 2, onExhausted: async () => void exhausted++ },
    );
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('handled once the work is free', async () => deliveries.length === 6 && (await pending()) === 0, 20000);
    // Each new message starts again at delivery 1.
    expect(deliveries).toEqual([1, 2, 1, 2, 1, 2]);
    expect(exhausted).toBe(0);
  });

  it('terminates a message whose payload fails validation without calling the handler', async () => {
    let calls = 0;
    await run(async () => {
      calls++;
      return { ack: true };
    });
    await js.js.publish(js.subject(FileSubjects.queued), JSON.stringify({ fileId: 'not-a-uuid' }));
    await waitFor('invalid message settled', async () => (await pending()) === 0, 10000);
    expect(calls).toBe(0);
  });
});
