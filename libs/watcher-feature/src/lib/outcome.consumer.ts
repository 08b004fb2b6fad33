import { Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { FileLifecycleEvent, OUTCOME_SUBJECTS } from '@sluice/contracts';
import { JetStreamContext, JetStreamController } from '@sluice/messaging';
import { OutcomeMover } from './outcome-mover.service';

export const OUTCOMES_DURABLE = 'watcher-outcomes';
export const OUTCOMES_ACK_WAIT_MS = 30000;
export const OUTCOMES_MAX_DELIVER = 10;

/**
 * Hears terminal outcomes and moves the file. The event only says "look": the ledger row decides. A file
 * whose move keeps failing is still settled by the next reconciliation.
 */
@JetStreamController()
export class OutcomeConsumer {
  private readonly logger = new Logger(OutcomeConsumer.name);

  constructor(private readonly mover: OutcomeMover) {}

  @EventPattern(OUTCOME_SUBJECTS)
  async onOutcome(@Payload() event: FileLifecycleEvent, @Ctx() ctx: JetStreamContext): Promise<void> {
    const result = await this.mover.settleById(event.fileId);
    if (result === 'unknown') this.logger.warn(`outcome ${ctx.getSubject()} for unknown file ${event.fileId}; acked`);
  }
}
