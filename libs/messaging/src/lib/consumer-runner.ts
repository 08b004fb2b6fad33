import { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { FileSubject } from '@sluice/contracts';
import type { JetStreamService } from './jetstream.service';

export type HandlerResult = { ack: true } | { retryInMs: number };

export interface ConsumedMessage<T> {
  payload: T;
  subject: string;
  deliveryCount: number;
  /** Tells JetStream the message is still being worked on (resets ack_wait). */
  working(): void;
}

export interface ConsumerRunnerOptions<T extends object> {
  durable: string;
  /** The subjects this consumer is for; messages on other subjects of its filter are acked and skipped. */
  subjects: readonly FileSubject[];
  payloadClass: new () => T;
  concurrency: number;
  ackWaitMs: number;
  maxDeliver: number;
  handle(msg: ConsumedMessage<T>): Promise<HandlerResult>;
  /** The last delivery failed: record the failure durably; the message is then terminated. */
  onExhausted?(msg: ConsumedMessage<T>, error: unknown): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pulls from a durable consumer with `concurrency` loops. A message is acked only after its handler
 * resolves; it is kept alive with working() while the handler runs; a throw naks it with backoff; a
 * payload that fails validation is terminated (redelivering it can never succeed).
 */
export class ConsumerRunner<T extends object> {
  private readonly logger: Logger;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private inFlight = 0;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly opts: ConsumerRunnerOptions<T>,
  ) {
    this.logger = new Logger(`Consumer:${opts.durable}`);
  }

  get busy(): number {
    return this.inFlight;
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stops pulling and waits for in-flight messages to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let msg: JsMsg | null = null;
      try {
        const consumer = await this.jetstream.js.consumers.get(this.jetstream.stream, this.opts.durable);
        msg = await consumer.next({ expires: 2000 });
      } catch (e) {
        if (this.stopping) break;
        this.logger.warn(`pull failed: ${(e as Error).message}`);
        await sleep(1000);
        continue;
      }
      if (msg) await this.process(msg);
    }
  }

  private async process(msg: JsMsg): Promise<void> {
    if (!this.opts.subjects.some((s) => this.jetstream.subject(s) === msg.subject)) {
      msg.ack();
      return;
    }
    this.inFlight++;
    const heartbeat = setInterval(() => msg.working(), Math.max(500, Math.floor(this.opts.ackWaitMs / 3)));
    try {
      let raw: unknown;
      try {
        raw = msg.json();
      } catch {
        raw = undefined;
      }
      const payload = plainToInstance(this.opts.payloadClass, raw ?? {});
      const problems = raw && typeof raw === 'object' ? await validate(payload, { whitelist: true }) : ['not JSON'];
      if (problems.length > 0) {
        this.logger.error(`terminating invalid message on ${msg.subject}: ${problems.toString()}`);
        msg.term();
        return;
      }
      const consumed: ConsumedMessage<T> = {
        payload,
        subject: msg.subject,
        deliveryCount: msg.info.deliveryCount,
        working: () => msg.working(),
      };
      try {
        const result = await this.opts.handle(consumed);
        if ('ack' in result) await msg.ackAck().catch(() => msg.ack());
        else msg.nak(result.retryInMs);
      } catch (error) {
        if (msg.info.deliveryCount >= this.opts.maxDeliver) {
          this.logger.error(`giving up after ${msg.info.deliveryCount} attempts: ${(error as Error).message}`);
          await this.opts.onExhausted?.(consumed, error);
          msg.term();
        } else {
          const delay = Math.min(60000, 1000 * 2 ** (msg.info.deliveryCount - 1));
          this.logger.warn(`attempt ${msg.info.deliveryCount} failed, retrying in ${delay} ms: ${(error as Error).message}`);
          msg.nak(delay);
        }
      }
    } finally {
      clearInterval(heartbeat);
      this.inFlight--;
    }
  }
}
