import { Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { BatchSubjects, FileBatchQueuedMessage, FileQueuedMessage, FileSubjects, MAX_BATCH_FILES, type FileSubject } from '@sluice/contracts';
import { GiveUp, JetStreamContext, JetStreamController, Payloads, RetryLater, type BatchOptions, type JetStreamHandlerOptions } from '@sluice/messaging';
import { BatchProcessorService } from './batch-processor.service';
import { classifyFailure } from './failure.util';
import { FileProcessorService, type ProcessResult } from './file-processor.service';

export const PROCESSOR_DURABLE = 'processor';
export const BATCH_DURABLE = 'processor-batches';
/** The subjects the processor's transport serves. */
export const PROCESSOR_SUBJECTS: readonly FileSubject[] = [FileSubjects.queued, BatchSubjects.queued];
/** Another replica holds the file in its load transaction: look again after this long. */
const BUSY_RETRY_MS = 2000;
/** Payload bytes one merged load holds at most (the bodies are read into memory). */
const MERGE_BYTES = 16 * 1024 * 1024;
/** How long a stopping processor lets in-flight files finish before rolling them back for redelivery. */
const SHUTDOWN_GRACE_MS = 10000;

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/** Batch messages waiting together are loaded together: under load, one transaction takes many ingest batches. */
const MERGE: BatchOptions<FileBatchQueuedMessage> = {
  maxMessages: 64,
  // API payloads become visible this much later at most.
  lingerMs: 100,
  fits: (taken, next) => sum(taken, (m) => m.fileIds.length) + next.fileIds.length <= MAX_BATCH_FILES && sum(taken, (m) => m.bytes ?? 0) + (next.bytes ?? 0) <= MERGE_BYTES,
};

/**
 * The processor's JetStream handlers. Every replica pulls from the same durable consumers, so JetStream hands
 * each message to one of them. Batches of small API payloads have a consumer of their own, so a long file never
 * delays them (and back).
 */
@JetStreamController()
export class ProcessorConsumer implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ProcessorConsumer.name);
  private grace?: NodeJS.Timeout;

  constructor(
    private readonly files: FileProcessorService,
    private readonly batches: BatchProcessorService,
  ) {}

  @EventPattern<FileSubject>(FileSubjects.queued)
  async fileQueued(@Payload() msg: FileQueuedMessage, @Ctx() ctx: JetStreamContext): Promise<void> {
    let result: ProcessResult;
    try {
      result = await this.files.process(msg.fileId, ctx.working);
    } catch (e) {
      if (!ctx.isLastDelivery()) throw e;
      // No attempt is left (the attempt policy says): the file ends `failed` with the reason, and the message is given up.
      const { reason } = classifyFailure(e);
      await this.files.fail(msg.fileId, reason);
      throw new GiveUp(reason.message, { cause: e });
    }
    if (result === 'busy') throw new RetryLater(BUSY_RETRY_MS, `another replica holds file ${msg.fileId}`);
  }

  @EventPattern<FileSubject>(BatchSubjects.queued, { durable: BATCH_DURABLE, maxAckPending: 1000, batch: MERGE } satisfies JetStreamHandlerOptions)
  async batchesQueued(@Payloads(FileBatchQueuedMessage) msgs: FileBatchQueuedMessage[], @Ctx() ctx: JetStreamContext): Promise<void> {
    await this.batches.process([...new Set(msgs.flatMap((m) => m.fileIds))], ctx.working, ctx.getDeliveryCount() === 1);
  }

  /** The transport drains in-flight files after this; past the grace period their loads are rolled back for redelivery. */
  beforeApplicationShutdown(): void {
    this.grace = setTimeout(() => {
      this.logger.warn('in-flight files did not finish in time; rolling them back for redelivery');
      this.files.abortInFlight();
    }, SHUTDOWN_GRACE_MS);
  }

  onApplicationShutdown(): void {
    clearTimeout(this.grace);
  }
}
