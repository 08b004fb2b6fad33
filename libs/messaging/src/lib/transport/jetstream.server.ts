import { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { BatchSubjects, FileSubjects, messageIds, type FileSubject } from '@sluice/contracts';
import { isObservable, lastValueFrom } from 'rxjs';
import type { JetStreamService } from '../jetstream.service';
import { JetStreamContext } from './jetstream.context';
import { InvalidMessage, type BatchOptions, type JetStreamHandlerOptions } from './jetstream.decorators';
import { PullConsumer, type Received } from './pull-consumer';

export interface JetStreamServerOptions {
  /** The service's durable pull consumer; a handler may name one of its own (`durable` handler option). */
  durable: string;
  /** Handler calls at once, per consumer. */
  concurrency: number;
  ackWaitMs: number;
  /** Deliveries of a message at most; the handler sees the last one as `ctx.isLastDelivery()`. */
  maxDeliver: number;
  maxAckPending?: number;
}

interface ConsumerGroup {
  durable: string;
  subjects: FileSubject[];
  maxAckPending?: number;
  batch?: BatchOptions<unknown>;
  logger: Logger;
}

const KNOWN_SUBJECTS = new Set<string>([...Object.values(FileSubjects), ...Object.values(BatchSubjects)]);
const messageOf = (e: unknown): string => (e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e));

/**
 * `@nestjs/microservices` transport over JetStream: `@EventPattern(subject)` handlers (in a
 * `@JetStreamController()`) are bound to durable pull consumers with explicit acks.
 *
 * - A message is acked only after its handler resolves; `ctx.retryLater(ms)` naks it with that delay instead, or
 *   on its last delivery queues it again as a new message (a "not now" never drops a message nor spends attempts).
 * - A throw naks it with exponential backoff (1 s, 2 s, … 60 s); at `maxDeliver` it is terminated. So a handler
 *   throws only for what a retry may cure, and settles a permanent failure of its own (the processor
 *   quarantines a file the database refuses) or throws `InvalidMessage`, which terminates the message at once,
 *   as does a payload that fails validation or is not JSON.
 * - Messages are kept alive with working() while a call runs (and with `ctx.working()` by the handler).
 * - Up to `concurrency` calls run at once per consumer; with the `batch` handler option one call takes every
 *   waiting message that fits and all are acked (or retried) together. A batch that fails validation is split,
 *   so that only the invalid message is terminated.
 * - The durable consumers are set up in the background once JetStream answers, so a service started while
 *   JetStream has no leader runs (not ready) and starts consuming when it has one. A consumer or stream lost
 *   (a server restarted without its store) is created again.
 * - close() (on shutdown) stops pulling and waits for in-flight calls; messages pulled but not started go back.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  override readonly propagatesEventHandlerErrors = true;
  private readonly consumers: PullConsumer[] = [];
  private readonly prefix: string;
  private readonly closing = new AbortController();
  private starting?: Promise<void>;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly options: JetStreamServerOptions,
  ) {
    super();
    this.prefix = `${jetstream.namespace}.`;
  }

  listen(callback: (err?: unknown) => void): void {
    let groups: ConsumerGroup[];
    try {
      groups = this.groups();
    } catch (e) {
      callback(e);
      return;
    }
    const attempts: Promise<void>[] = [];
    this.starting = this.start(groups, attempts).catch((e: unknown) => {
      if (!this.closing.signal.aborted) this.logger.error(`consuming stopped before it started: ${messageOf(e)}`);
    });
    // With a JetStream that answers, the consumers exist once the transport is up; without a leader it starts without them.
    void Promise.race([this.starting, Promise.all(attempts)]).then(() => callback());
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.starting;
    await Promise.all(this.consumers.map((c) => c.stop()));
  }

  on(): never {
    throw new Error('the JetStream transport emits no events');
  }

  unwrap<T>(): T {
    return this.jetstream.js as T;
  }

  /**
   * Sets each durable consumer up once JetStream answers (readiness waits for all of them), then pulls from it.
   * `attempts` gets, synchronously, one promise per consumer that resolves after its first attempt.
   */
  private async start(groups: ConsumerGroup[], attempts: Promise<void>[]): Promise<void> {
    const { concurrency, ackWaitMs, maxDeliver } = this.options;
    const signal = this.closing.signal;
    await Promise.all(
      groups.map(async (group) => {
        let attempted!: () => void;
        attempts.push(new Promise<void>((resolve) => (attempted = resolve)));
        const spec = { durable: group.durable, subjects: group.subjects, ackWaitMs, maxDeliver, maxAckPending: group.maxAckPending };
        // The stream first: the consumer is made on it, and it may itself be lost and made again.
        const ensure = async () => {
          await this.jetstream.ensureStream();
          await this.jetstream.ensureDurableConsumer(spec);
        };
        await this.jetstream.setUp(`consumer ${group.durable}`, ensure, { signal, attempted });
        if (signal.aborted) return;
        const routes = new Set<string>(group.subjects);
        const consumer = new PullConsumer(
          this.jetstream,
          {
            durable: group.durable,
            concurrency,
            ackWaitMs,
            batch: group.batch,
            ensure,
            receive: (msg) => this.receive(msg, routes, group.logger),
            handle: (rs) => this.call(group, rs),
          },
          group.logger,
        );
        this.consumers.push(consumer);
        consumer.start();
      }),
    );
    if (!signal.aborted) this.logger.log(`consuming ${this.consumers.length} durable consumer(s) with concurrency ${concurrency} each`);
  }

  /** Handlers grouped by durable consumer; a batch handler has its consumer to itself. */
  private groups(): ConsumerGroup[] {
    const groups = new Map<string, ConsumerGroup>();
    for (const [pattern, handler] of this.getHandlers()) {
      if (!handler.isEventHandler) throw new Error(`${pattern}: the JetStream transport serves @EventPattern handlers only`);
      if (!KNOWN_SUBJECTS.has(pattern)) throw new Error(`${pattern} is not a subject of the stream`);
      const extras = (handler.extras ?? {}) as JetStreamHandlerOptions;
      const durable = extras.durable ?? this.options.durable;
      const group = groups.get(durable) ?? { durable, subjects: [], maxAckPending: this.options.maxAckPending, logger: new Logger(`Consumer:${durable}`) };
      group.subjects.push(pattern as FileSubject);
      group.maxAckPending = extras.maxAckPending ?? group.maxAckPending;
      group.batch ??= extras.batch as BatchOptions<unknown> | undefined;
      if (group.batch && group.subjects.length > 1) throw new Error(`consumer ${durable}: a batch handler needs a durable consumer of its own`);
      groups.set(durable, group);
    }
    return [...groups.values()];
  }

  /** Decodes a message; one on another subject of the consumer's filter is acked and skipped, one not JSON terminated. */
  private receive(msg: JsMsg, routes: Set<string>, logger: Logger): Received | undefined {
    const route = msg.subject.slice(this.prefix.length);
    if (!msg.subject.startsWith(this.prefix) || !routes.has(route)) {
      msg.ack();
      return undefined;
    }
    try {
      return { msg, route, data: msg.json(), at: Date.now() };
    } catch {
      logger.error(`terminating a message on ${msg.subject} that is not JSON`);
      msg.term();
      return undefined;
    }
  }

  /** One handler call, then every message of it settled. */
  private async call(group: ConsumerGroup, rs: Received[]): Promise<void> {
    const ctx = new JetStreamContext([rs.map((r) => r.msg), rs[0].msg.subject, this.options.maxDeliver]);
    const handler = this.getHandlerByPattern(rs[0].route) as MessageHandler;
    try {
      const result: unknown = await handler(group.batch ? rs.map((r) => r.data) : rs[0].data, ctx);
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    } catch (error) {
      await this.failed(group, rs, error);
      return;
    }
    if (ctx.retryDelayMs !== undefined) for (const r of rs) await this.retryLater(group, r.msg, ctx.retryDelayMs);
    else await Promise.all(rs.map((r) => r.msg.ackAck().catch(() => r.msg.ack())));
  }

  /**
   * JetStream drops a message nak'ed on its last delivery (max_deliver counts every delivery), and a
   * "not now" (another process holds the work) must not use up the attempts: on the last delivery the same
   * payload goes out as a new message (its id makes a repeat after a crash harmless) and this one is acked.
   */
  private async retryLater(group: ConsumerGroup, msg: JsMsg, delayMs: number): Promise<void> {
    if (msg.info.deliveryCount < this.options.maxDeliver) {
      msg.nak(delayMs);
      return;
    }
    try {
      await this.jetstream.js.publish(msg.subject, msg.data, { msgID: messageIds.again(msg.info.streamSequence) });
      msg.ack();
      group.logger.log(`message ${msg.info.streamSequence} still not workable after ${msg.info.deliveryCount} deliveries: queued again`);
    } catch (e) {
      group.logger.warn(`could not queue message ${msg.info.streamSequence} again (${messageOf(e)}): it is dropped after this delivery`);
      msg.nak(delayMs);
    }
  }

  /** Terminated if it can never succeed; otherwise retried with backoff until the last delivery, then terminated. */
  private async failed(group: ConsumerGroup, rs: Received[], error: unknown): Promise<void> {
    if (error instanceof InvalidMessage) {
      // Only the message at fault goes: each of a batch is tried again on its own.
      if (rs.length > 1) for (const r of rs) await this.call(group, [r]);
      else {
        group.logger.error(`terminating invalid message on ${rs[0].msg.subject}: ${error.message}`);
        rs[0].msg.term();
      }
      return;
    }
    for (const { msg } of rs) {
      const attempt = msg.info.deliveryCount;
      if (attempt >= this.options.maxDeliver) {
        group.logger.error(`giving up after ${attempt} attempts: ${messageOf(error)}`);
        msg.term();
      } else {
        const delay = Math.min(60000, 1000 * 2 ** (attempt - 1));
        group.logger.warn(`attempt ${attempt} failed, retrying in ${delay} ms: ${messageOf(error)}`);
        msg.nak(delay);
      }
    }
  }
}
