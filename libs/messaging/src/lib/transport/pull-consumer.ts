import type { Logger } from '@nestjs/common';
import { JetStreamApiError, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { JetStreamService } from '../jetstream.service';
import type { BatchOptions } from './jetstream.decorators';

/** A message pulled and decoded, waiting for a handler call. */
export interface Received {
  msg: JsMsg;
  /** The subject without the namespace: the handler's pattern. */
  route: string;
  data: unknown;
  at: number;
}

export interface PullConsumerOptions {
  stream: string;
  durable: string;
  concurrency: number;
  ackWaitMs: number;
  batch?: BatchOptions<unknown>;
  /** Creates the stream and the durable consumer again when they are gone (a server restarted without its store). */
  ensure(): Promise<void>;
  /** Decodes a message; undefined when it was settled already (another subject, cannot be decoded). */
  receive(msg: JsMsg): Received | undefined | Promise<Received | undefined>;
  /** One handler call: settles every message it is given. */
  handle(rs: Received[]): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How a pull is kept alive. The server answers an idle pull with a heartbeat each `idle_heartbeat`; two missed
 * mean the pull was lost (its server or the consumer's leader went away), and the pull is made again at once, as
 * after a reconnection. A pull given up on lives on in the server until it expires, and a message it hands out
 * then waits for ack_wait: short pulls keep that window short. The library's own recovery (defaults: heartbeats
 * every 15 s, a failed check of the consumer retried after 15–45 s, heartbeats paused after a reconnection until
 * a check passes) stalled consumers for 30 s and more after a NATS restart.
 */
const PULL = { expires: 2000, idle_heartbeat: 500 };
/** Between subscriptions after one ended, so a JetStream without a leader is not asked in a tight loop. */
const RESUBSCRIBE_DELAY_MS = 250;
/** Notifications after which the pull is made again; after the last three, the consumer is looked up (or made) again too. */
const LOST_PULL = new Set(['heartbeats_missed', 'no_responders', 'consumer_not_found', 'stream_not_found', 'consumer_deleted']);
const MISSING = new Set(['consumer_not_found', 'stream_not_found', 'consumer_deleted']);

/**
 * Pulls from one durable consumer through one long-lived `consume()` subscription and runs up to
 * `concurrency` handler calls at once, each of one message or (with `batch`) of every message waiting that
 * fits. Messages are kept alive with working() while a call runs. No more messages are pulled ahead than one
 * round of calls takes, so none waits long in this process while its ack_wait runs.
 */
export class PullConsumer {
  private stopping = false;
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  /** Kept between pulls: a new pull needs no API round trip, which would wait out its timeout while JetStream elects leaders. */
  private consumer?: Consumer;
  private readonly waiting: Received[] = [];
  private readonly active = new Set<Promise<void>>();
  private progress?: () => void;
  private lingering?: NodeJS.Timeout;
  private readonly ahead: number;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly opts: PullConsumerOptions,
    private readonly logger: Logger,
  ) {
    this.ahead = opts.concurrency * (opts.batch?.maxMessages ?? 1);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops pulling and waits for in-flight calls to finish; messages pulled but not started go back. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.lingering);
    this.messages?.stop();
    this.progress?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const reconnected = this.jetstream.reconnected.subscribe(() => this.messages?.stop());
    let failures = 0;
    while (!this.stopping) {
      try {
        const messages = await this.subscribe();
        failures = 0;
        for await (const msg of messages) {
          this.jetstream.delivery.sign();
          const received = this.stopping ? undefined : await this.opts.receive(msg);
          if (this.stopping) msg.nak();
          else if (received) this.waiting.push(received);
          this.dispatch();
          while (this.waiting.length >= this.ahead && !this.stopping) await new Promise<void>((resolve) => (this.progress = resolve));
        }
      } catch (e) {
        this.consumer = undefined;
        // One line per outage, not one per attempt.
        if (!this.stopping && failures++ === 0) this.logger.warn(`pull from ${this.opts.durable} failed: ${(e as Error).message}; pulling again`);
      }
      // The subscription ended (pull lost, reconnection, consumer gone) or failed: subscribe again.
      if (!this.stopping) await sleep(RESUBSCRIBE_DELAY_MS);
    }
    reconnected.unsubscribe();
    for (const r of this.waiting.splice(0)) r.msg.nak();
    await Promise.all([...this.active]);
  }

  /** A new pull on the durable consumer, ended when the pull is lost. */
  private async subscribe(): Promise<ConsumerMessages> {
    this.consumer ??= await this.lookUp();
    const messages = await this.consumer.consume({ max_messages: this.ahead, ...PULL, abort_on_missing_resource: true });
    this.messages = messages;
    if (this.stopping) messages.stop();
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type === 'heartbeat') this.jetstream.delivery.sign();
        if (MISSING.has(s.type)) this.consumer = undefined;
        if (LOST_PULL.has(s.type)) {
          messages.stop();
          return;
        }
      }
    })();
    return messages;
  }

  /** The durable consumer, made again first if it (or the stream) is gone. */
  private async lookUp(): Promise<Consumer> {
    const { js } = this.jetstream;
    const { stream } = this.opts;
    return js.consumers.get(stream, this.opts.durable).catch(async (e: unknown) => {
      if (!(e instanceof JetStreamApiError) || e.status !== 404) throw e;
      this.logger.warn(`consumer ${this.opts.durable} is gone (${e.message}): creating it again`);
      await this.opts.ensure();
      return js.consumers.get(stream, this.opts.durable);
    });
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
      const run: Promise<void> = this.heartbeating(this.take()).finally(() => {
        this.active.delete(run);
        this.dispatch();
        this.progress?.();
      });
      this.active.add(run);
    }
  }

  private take(): Received[] {
    const batch = this.opts.batch;
    if (!batch) return this.waiting.splice(0, 1);
    const taken = [this.waiting.shift() as Received];
    const payloads = [taken[0].data];
    while (this.waiting.length && this.fits(batch, payloads, this.waiting[0].data)) {
      const next = this.waiting.shift() as Received;
      taken.push(next);
      payloads.push(next.data);
    }
    return taken;
  }

  /** `fits` sees payloads before validation: one it cannot measure goes into a call of its own. */
  private fits(batch: BatchOptions<unknown>, taken: unknown[], next: unknown): boolean {
    try {
      return batch.fits(taken, next);
    } catch {
      return false;
    }
  }

  private async heartbeating(rs: Received[]): Promise<void> {
    const heartbeat = setInterval(() => rs.forEach((r) => r.msg.working()), Math.max(500, Math.floor(this.opts.ackWaitMs / 3)));
    const call = this.jetstream.delivery.callStarted();
    try {
      await this.opts.handle(rs);
    } catch (e) {
      // Settling failed (NATS gone): the messages come back after ack_wait.
      this.logger.error(`settling messages of ${this.opts.durable} failed: ${(e as Error).message}`);
    } finally {
      clearInterval(heartbeat);
      call.end();
    }
  }
}
