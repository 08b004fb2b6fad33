import { Logger } from '@nestjs/common';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { FileSubject } from '@sluice/contracts';
import type { JetStreamService } from './jetstream.service';

/** `retryInMs`: not now (e.g. another process holds the work), which is no failure and spends no attempt. */
export type HandlerResult = { ack: true } | { retryInMs: number };

export interface ConsumedMessage<T> {
  payload: T;
  subject: string;
  deliveryCount: number;
  /** Tells JetStream the message is still being worked on (resets ack_wait). */
  working(): void;
}

/** Handling several messages at once: one handler call, then all acked (or all retried). */
export interface BatchHandling<T> {
  /** Messages pulled ahead and merged into one call at most. */
  maxMessages: number;
  /** How long a call waits for more messages before it starts with fewer than `maxMessages`. */
  lingerMs: number;
  /** Whether `next` still fits into a call that already holds `taken` (the first always does). */
  fits(taken: readonly T[], next: T): boolean;
  handle(msgs: ConsumedMessage<T>[]): Promise<void>;
}

export interface ConsumerRunnerOptions<T extends object> {
  durable: string;
  /** The subjects this consumer is for; messages on other subjects of its filter are acked and skipped. */
  subjects: readonly FileSubject[];
  payloadClass: new () => T;
  concurrency: number;
  ackWaitMs: number;
  maxDeliver: number;
  handle?(msg: ConsumedMessage<T>): Promise<HandlerResult>;
  /** Instead of `handle`: messages waiting at the same time are handled together. */
  batch?: BatchHandling<T>;
  /** The last delivery failed: record the failure durably; the message is then terminated. */
  onExhausted?(msg: ConsumedMessage<T>, error: unknown): Promise<void>;
}

interface Received<T> {
  msg: JsMsg;
  consumed: ConsumedMessage<T>;
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pulls from a durable consumer through one long-lived `consume()` subscription and handles up to
 * `concurrency` calls at once, each of one message or (with `batch`) of every message waiting that fits.
 * A message is acked only after its handler resolves; it is kept alive with working() while it waits and
 * while the handler runs; a throw naks it with backoff; a "not now" answer naks it with its delay, or on the
 * last delivery queues it again (never dropped for it); a payload that fails validation is terminated
 * (redelivering it can never succeed). So a handler throws only for what a retry may cure: it settles a
 * permanent failure of its own (the processor quarantines a file the database refuses) and resolves. No more messages are pulled ahead than one round of calls takes,
 * so none waits long in this process while its ack_wait runs.
 */
export class ConsumerRunner<T extends object> {
  private readonly logger: Logger;
  private stopping = false;
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  private readonly waiting: Received<T>[] = [];
  private readonly active = new Set<Promise<void>>();
  private progress?: () => void;
  private lingering?: NodeJS.Timeout;
  private readonly ahead: number;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly opts: ConsumerRunnerOptions<T>,
  ) {
    this.logger = new Logger(`Consumer:${opts.durable}`);
    if (!opts.handle === !opts.batch) throw new Error('a consumer runner needs exactly one of handle and batch');
    this.ahead = opts.concurrency * (opts.batch?.maxMessages ?? 1);
  }

  get busy(): number {
    return this.active.size;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops pulling and waits for in-flight messages to finish; messages pulled but not started go back. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.lingering);
    this.messages?.stop();
    this.progress?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const consumer = await this.jetstream.js.consumers.get(this.jetstream.stream, this.opts.durable);
        this.messages = await consumer.consume({ max_messages: this.ahead });
        if (this.stopping) this.messages.stop();
        for await (const msg of this.messages) {
          const received = this.stopping ? undefined : await this.receive(msg);
          if (this.stopping) msg.nak();
          else if (received) this.waiting.push(received);
          this.dispatch();
          while (this.waiting.length >= this.ahead && !this.stopping) await new Promise<void>((resolve) => (this.progress = resolve));
        }
      } catch (e) {
        if (!this.stopping) this.logger.warn(`pull failed: ${(e as Error).message}`);
      }
      // The subscription ended (consumer deleted, connection lost) or failed: subscribe again.
      if (!this.stopping) await sleep(1000);
    }
    for (const r of this.waiting.splice(0)) r.msg.nak();
    await Promise.all([...this.active]);
  }

  /**
   * Starts calls while fewer than `concurrency` run, each with the waiting messages that fit together. A
   * batch call lingers for more messages first (a few large calls cost far less than many small ones).
   */
  private dispatch(): void {
    while (this.active.size < this.opts.concurrency && this.waiting.length && !this.stopping) {
      const batch = this.opts.batch;
      if (batch && this.waiting.length < batch.maxMessages) {
        const wait = this.waiting[0].at + batch.lingerMs - Date.now();
        if (wait > 0) {
          this.lingering ??= setTimeout(() => {
            this.lingering = undefined;
            this.dispatch();
          }, wait);
          return;
        }
      }
      const take = this.take();
      const run: Promise<void> = (this.opts.batch ? this.handleMany(take) : this.handleOne(take[0])).finally(() => {
        this.active.delete(run);
        this.dispatch();
        this.progress?.();
      });
      this.active.add(run);
    }
  }

  private take(): Received<T>[] {
    const batch = this.opts.batch;
    if (!batch) return this.waiting.splice(0, 1);
    const taken = [this.waiting.shift() as Received<T>];
    const payloads = [taken[0].consumed.payload];
    while (this.waiting.length && batch.fits(payloads, this.waiting[0].consumed.payload)) {
      const next = this.waiting.shift() as Received<T>;
      taken.push(next);
      payloads.push(next.consumed.payload);
    }
    return taken;
  }

  /** Decodes and validates a message; acks one of another subject, terminates an invalid one. */
  private async receive(msg: JsMsg): Promise<Received<T> | undefined> {
    if (!this.opts.subjects.some((s) => this.jetstream.subject(s) === msg.subject)) {
      msg.ack();
      return undefined;
    }
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
      return undefined;
    }
    return { msg, consumed: { payload, subject: msg.subject, deliveryCount: msg.info.deliveryCount, working: () => msg.working() }, at: Date.now() };
  }

  private async handleOne(r: Received<T>): Promise<void> {
    await this.heartbeating([r], async () => {
      try {
        const result = await (this.opts.handle as NonNullable<ConsumerRunnerOptions<T>['handle']>)(r.consumed);
        if ('ack' in result) await r.msg.ackAck().catch(() => r.msg.ack());
        else await this.retryLater(r.msg, result.retryInMs);
      } catch (error) {
        await this.failed(r, error);
      }
    });
  }

  private async handleMany(rs: Received<T>[]): Promise<void> {
    await this.heartbeating(rs, async () => {
      try {
        await (this.opts.batch as BatchHandling<T>).handle(rs.map((r) => r.consumed));
        await Promise.all(rs.map((r) => r.msg.ackAck().catch(() => r.msg.ack())));
      } catch (error) {
        for (const r of rs) await this.failed(r, error);
      }
    });
  }

  /**
   * JetStream drops a message nak'ed on its last delivery (max_deliver counts every delivery), and a
   * "not now" must not use up the attempts: on the last delivery the same payload goes out as a new
   * message (its id makes a repeat after a crash harmless) and this one is acked.
   */
  private async retryLater(msg: JsMsg, delayMs: number): Promise<void> {
    if (msg.info.deliveryCount < this.opts.maxDeliver) {
      msg.nak(delayMs);
      return;
    }
    try {
      await this.jetstream.js.publish(msg.subject, msg.data, { msgID: `${msg.info.streamSequence}.again` });
      msg.ack();
      this.logger.log(`message ${msg.info.streamSequence} still not workable after ${msg.info.deliveryCount} deliveries: queued again`);
    } catch (e) {
      this.logger.warn(`could not queue message ${msg.info.streamSequence} again (${(e as Error).message}): it is dropped after this delivery`);
      msg.nak(delayMs);
    }
  }

  /** Retried with backoff, or, after the last delivery, recorded and terminated. */
  private async failed(r: Received<T>, error: unknown): Promise<void> {
    const { msg } = r;
    if (msg.info.deliveryCount >= this.opts.maxDeliver) {
      this.logger.error(`giving up after ${msg.info.deliveryCount} attempts: ${(error as Error).message}`);
      await this.opts.onExhausted?.(r.consumed, error);
      msg.term();
    } else {
      const delay = Math.min(60000, 1000 * 2 ** (msg.info.deliveryCount - 1));
      this.logger.warn(`attempt ${msg.info.deliveryCount} failed, retrying in ${delay} ms: ${(error as Error).message}`);
      msg.nak(delay);
    }
  }

  private async heartbeating(rs: Received<T>[], work: () => Promise<void>): Promise<void> {
    const heartbeat = setInterval(() => rs.forEach((r) => r.msg.working()), Math.max(500, Math.floor(this.opts.ackWaitMs / 3)));
    try {
      await work();
    } finally {
      clearInterval(heartbeat);
    }
  }
}
