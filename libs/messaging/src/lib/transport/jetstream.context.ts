import type { JsMsg } from '@nats-io/jetstream';
import { BaseRpcContext } from '@nestjs/microservices';

type JetStreamContextArgs = [messages: JsMsg[], subject: string, maxDeliver: number];

/**
 * What a JetStream handler gets with `@Ctx()`: the delivery count, a heartbeat for long work, and a way to ask
 * for a later redelivery instead of the ack. In batch mode it stands for every message of the call.
 */
export class JetStreamContext extends BaseRpcContext<JetStreamContextArgs> {
  /** Set by `retryLater`: nak with this delay instead of acking once the handler resolves. */
  retryDelayMs?: number;

  /** The full subject (with the namespace) the message came on. */
  getSubject(): string {
    return this.args[1];
  }

  /** The raw JetStream messages of this call (one, or several in batch mode). */
  getMessages(): JsMsg[] {
    return this.args[0];
  }

  /** Deliveries so far, this one included (the highest of a batch). */
  getDeliveryCount(): number {
    return Math.max(...this.args[0].map((m) => m.info.deliveryCount));
  }

  /** No redelivery follows if this attempt fails: a handler that records failures does it now. */
  isLastDelivery(): boolean {
    return this.getDeliveryCount() >= this.args[2];
  }

  /** Tells JetStream the work goes on (resets ack_wait); a function, so it can be handed on as a callback. */
  readonly working = (): void => {
    for (const m of this.args[0]) m.working();
  };

  /** Not now, and not a failure (another replica holds the file): redelivered after `delayMs` instead of acked. */
  retryLater(delayMs: number): void {
    this.retryDelayMs = delayMs;
  }
}
