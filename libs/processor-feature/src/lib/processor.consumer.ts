import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { BatchSubjects, FileBatchQueuedMessage, FileQueuedMessage, FileSubjects, MAX_BATCH_FILES } from '@sluice/contracts';
import { ConsumerRunner, JetStreamService } from '@sluice/messaging';
import { BatchProcessorService } from './batch-processor.service';
import { classifyFailure } from './failure.util';
import { FileProcessorService } from './file-processor.service';

export const PROCESSOR_DURABLE = 'processor';
export const BATCH_DURABLE = 'processor-batches';
/** Batch messages pulled ahead and merged into one load at most. */
const MERGE_MESSAGES = 64;
/** How long a load waits for more batch messages to merge (API payloads become visible this much later). */
const MERGE_LINGER_MS = 100;
/** Payload bytes one merged load holds at most (the bodies are read into memory). */
const MERGE_BYTES = 16 * 1024 * 1024;

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);
/** How long a stopping processor lets in-flight files finish before rolling them back for redelivery. */
const SHUTDOWN_GRACE_MS = 10000;

/** Every replica pulls from the same durable consumer, so JetStream hands each file to one of them. */
@Injectable()
export class ProcessorConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ProcessorConsumer.name);
  private runner?: ConsumerRunner<FileQueuedMessage>;
  private batchRunner?: ConsumerRunner<FileBatchQueuedMessage>;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly jetstream: JetStreamService,
    private readonly files: FileProcessorService,
    private readonly batches: BatchProcessorService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // One delivery more than MAX_ATTEMPTS: the last one only records `failed` if every attempt crashed.
    const maxDeliver = this.config.MAX_ATTEMPTS + 1;
    await this.jetstream.ensureDurableConsumer({
      durable: PROCESSOR_DURABLE,
      subjects: [FileSubjects.queued],
      ackWaitMs: this.config.ACK_WAIT_MS,
      maxDeliver,
      maxAckPending: 10000,
    });
    this.runner = new ConsumerRunner(this.jetstream, {
      durable: PROCESSOR_DURABLE,
      subjects: [FileSubjects.queued],
      payloadClass: FileQueuedMessage,
      concurrency: this.config.PROCESSOR_CONCURRENCY,
      ackWaitMs: this.config.ACK_WAIT_MS,
      maxDeliver,
      handle: async (msg) => {
        const result = await this.files.process(msg.payload.fileId, msg.working);
        return result === 'busy' ? { retryInMs: 2000 } : { ack: true };
      },
      onExhausted: async (msg, error) => {
        await this.files.fail(msg.payload.fileId, classifyFailure(error).reason);
      },
    });
    // Batches of small API payloads: their own consumer, so a long file never delays them (and back).
    await this.jetstream.ensureDurableConsumer({ durable: BATCH_DURABLE, subjects: [BatchSubjects.queued], ackWaitMs: this.config.ACK_WAIT_MS, maxDeliver, maxAckPending: 1000 });
    this.batchRunner = new ConsumerRunner(this.jetstream, {
      durable: BATCH_DURABLE,
      subjects: [BatchSubjects.queued],
      payloadClass: FileBatchQueuedMessage,
      concurrency: this.config.PROCESSOR_CONCURRENCY,
      ackWaitMs: this.config.ACK_WAIT_MS,
      maxDeliver,
      // Messages waiting together are loaded together: under load, one transaction takes many ingest batches.
      batch: {
        maxMessages: MERGE_MESSAGES,
        lingerMs: MERGE_LINGER_MS,
        fits: (taken, next) => sum(taken, (m) => m.fileIds.length) + next.fileIds.length <= MAX_BATCH_FILES && sum(taken, (m) => m.bytes ?? 0) + (next.bytes ?? 0) <= MERGE_BYTES,
        handle: async (msgs) => {
          await this.batches.process([...new Set(msgs.flatMap((m) => m.payload.fileIds))], () => msgs.forEach((m) => m.working()));
        },
      },
    });
    this.runner.start();
    this.batchRunner.start();
    this.logger.log(`consuming with concurrency ${this.config.PROCESSOR_CONCURRENCY} (files) + ${this.config.PROCESSOR_CONCURRENCY} (payload batches)`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.runner) return;
    const stopped = Promise.all([this.runner.stop(), this.batchRunner?.stop()]);
    const timer = setTimeout(() => {
      this.logger.warn('in-flight files did not finish in time; rolling them back for redelivery');
      this.files.abortInFlight();
    }, SHUTDOWN_GRACE_MS);
    await stopped;
    clearTimeout(timer);
  }
}
