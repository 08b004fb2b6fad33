import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import type { RejectReason } from '@sluice/contracts';
import { GiveUp, JetStreamContext, RetryLater } from '@sluice/messaging';
import { randomUUID } from 'node:crypto';
import type { BatchProcessorService } from './batch-processor.service';
import type { FileProcessorService, ProcessResult } from './file-processor.service';
import { processorAttempts } from './processor-attempts';
import { ProcessorConsumer } from './processor.consumer';

/** The consumer over a file processor that answers `result` (or throws it), on delivery `deliveryCount` of a policy of `maxAttempts`. */
function harness(result: ProcessResult | Error, { maxAttempts = 2, deliveryCount = 1 } = {}) {
  const attempts = processorAttempts(loadConfig(ProcessorConfig, { MAX_ATTEMPTS: String(maxAttempts) }));
  const failed: Array<{ id: string; reason: RejectReason }> = [];
  const files: Pick<FileProcessorService, 'process' | 'fail'> = {
    process: async () => {
      if (result instanceof Error) throw result;
      return result;
    },
    fail: async (id, reason) => void failed.push({ id, reason }),
  };
  const msg = { info: { deliveryCount }, working: () => undefined } as unknown as JsMsg;
  const ctx = new JetStreamContext([[msg], 'sluice.files.queued.v1', attempts]);
  const consumer = new ProcessorConsumer(files as FileProcessorService, {} as BatchProcessorService);
  return { consumer, ctx, failed };
}

describe(ProcessorConsumer.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('resolves (the message is acked) once the file is done', async () => {
    const h = harness('done');
    await expect(h.consumer.fileQueued({ fileId: randomUUID() }, h.ctx)).resolves.toBeUndefined();
  });

  it('asks for a later delivery while another replica holds the file', async () => {
    const h = harness('busy');
    await expect(h.consumer.fileQueued({ fileId: randomUUID() }, h.ctx)).rejects.toBeInstanceOf(RetryLater);
  });

  it.each([1, 3])('passes a failure on for a retry before the last delivery the policy allows (MAX_ATTEMPTS %i)', async (maxAttempts) => {
    const h = harness(new Error('database unavailable'), { maxAttempts, deliveryCount: maxAttempts });
    await expect(h.consumer.fileQueued({ fileId: randomUUID() }, h.ctx)).rejects.toThrow('database unavailable');
    expect(h.failed).toEqual([]);
  });

  it.each([1, 3])('records `failed` on the last delivery the policy allows (MAX_ATTEMPTS %i), then gives the message up', async (maxAttempts) => {
    const fileId = randomUUID();
    const h = harness(new Error('database unavailable'), { maxAttempts, deliveryCount: maxAttempts + 1 });
    const thrown = await h.consumer.fileQueued({ fileId }, h.ctx).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(GiveUp);
    expect(h.failed).toEqual([{ id: fileId, reason: { rule: 'processing_failed', message: 'database unavailable' } }]);
  });
});
