import type { JsMsg } from '@nats-io/jetstream';
import { BaseRpcContext } from '@nestjs/microservices';
import type { AttemptPolicy } from './attempt-policy';

type JetStreamContextArgs = [messages: JsMsg[], subject: string, attempts: AttemptPolicy];

/**
 * What a JetStream handler gets with `@Ctx()`: the delivery count, whether it is the last one, and a heartbeat
 * for long work. In batch mode it stands for every message of the call. How the message is settled is said by
 * what the handler throws (see `RetryLater`, `GiveUp`), not through the context.
 */
export class JetStreamContext extends BaseRpcContext<JetStreamContextArgs> {
  /** The full subject (with the namespace) the message came on. */
  getSubject(): string {
    return this.args[1];
  }

  /** Deliveries so far, this one included (the highest of a batch). */
  getDeliveryCount(): number {
    return Math.max(...this.args[0].map((m) => m.info.deliveryCount));
  }

  /** No redelivery follows if this attempt fails (the consumer's attempt policy says): a handler that records failures does it now. */
  isLastDelivery(): boolean {
    return this.args[2].isLastDelivery(this.getDeliveryCount());
  }

  /** Tells JetStream the work goes on (resets ack_wait); a function, so it can be handed on as a callback. */
  readonly working = (): void => {
    for (const m of this.args[0]) m.working();
  };
}
