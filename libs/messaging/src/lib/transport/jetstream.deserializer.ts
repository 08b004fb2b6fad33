import type { JsMsg } from '@nats-io/jetstream';
import type { ConsumerDeserializer, IncomingEvent } from '@nestjs/microservices';

/** The JetStream transport's default: a message's body is the JSON payload itself (no Nest packet around it). */
export class JetStreamJsonDeserializer implements ConsumerDeserializer {
  deserialize(msg: JsMsg, options?: { channel?: string }): IncomingEvent {
    return { pattern: options?.channel, data: msg.json() };
  }
}
