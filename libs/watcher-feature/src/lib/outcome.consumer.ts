import { Injectable, Logger } from '@nestjs/common';
import { FileLifecycleEvent, OUTCOME_SUBJECTS } from '@sluice/contracts';
import { ConsumerRunner, JetStreamService, type ConsumedMessage, type HandlerResult } from '@sluice/messaging';
import { OutcomeMover } from './outcome-mover.service';

export const OUTCOMES_DURABLE = 'watcher-outcomes';
const ACK_WAIT_MS = 30000;
const MAX_DELIVER = 10;

/**
 * Hears terminal outcomes and moves the file. The event only says "look": the ledger row decides. A file
 * whose move keeps failing is still settled by the next reconciliation.
 */
@Injectable()
export class OutcomeConsumer {
  private readonly logger = new Logger(OutcomeConsumer.name);
  private runner?: ConsumerRunner<FileLifecycleEvent>;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly mover: OutcomeMover,
  ) {}

  async start(): Promise<void> {
    await this.jetstream.ensureDurableConsumer({ durable: OUTCOMES_DURABLE, subjects: OUTCOME_SUBJECTS, ackWaitMs: ACK_WAIT_MS, maxDeliver: MAX_DELIVER });
    this.runner = new ConsumerRunner(this.jetstream, {
      durable: OUTCOMES_DURABLE,
      subjects: OUTCOME_SUBJECTS,
      payloadClass: FileLifecycleEvent,
      concurrency: 2,
      ackWaitMs: ACK_WAIT_MS,
      maxDeliver: MAX_DELIVER,
      handle: (msg) => this.onOutcome(msg),
    });
    this.runner.start();
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
  }

  async onOutcome(msg: ConsumedMessage<FileLifecycleEvent>): Promise<HandlerResult> {
    const result = await this.mover.settleById(msg.payload.fileId);
    if (result === 'unknown') this.logger.warn(`outcome ${msg.subject} for unknown file ${msg.payload.fileId}; acked`);
    return { ack: true };
  }
}
