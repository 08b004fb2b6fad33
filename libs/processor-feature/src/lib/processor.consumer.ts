import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { BatchSubjects, FileBatchQueuedMessage, FileQueuedMessage, FileSubjects } from '@sluice/contracts';
import { ConsumerRunner, JetStreamService } from '@sluice/messaging';
import { BatchProcessorService } from './batch-processor.service';
import { FileProcessorService } from './file-processor.service';

export const PROCESSOR_DURABLE = 'processor';
export const BATCH_DURABLE = 'processor-batches';
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
        await this.files.fail(msg.payload.fileId, { rule: 'processing_failed', message: (error as Error).message });
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
      handle: async (msg) => {
        await this.batches.process(msg.payload.fileIds, msg.working);
        return { ack: true };
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
