import { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { Server, type ConsumerDeserializer, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { messageIds } from '@sluice/contracts';
import { EventEmitter } from 'node:events';
import { isObservable, lastValueFrom, type Subscription } from 'rxjs';
import type { ConnectionChange, JetStreamService } from '../jetstream.service';
import type { AttemptPolicy } from './attempt-policy';
import { JetStreamContext } from './jetstream.context';
import type { BatchOptions, JetStreamHandlerOptions } from './jetstream.decorators';
import { JetStreamJsonDeserializer } from './jetstream.deserializer';
import { GiveUp, InvalidMessage, RetryLater } from './outcomes';
import { PullConsumer, type Received } from './pull-consumer';

/** The transport's id: `@EventPattern(pattern, JETSTREAM_TRANSPORT)` binds a handler to it alone in a hybrid app. */
export const JETSTREAM_TRANSPORT: unique symbol = Symbol('JETSTREAM_TRANSPORT');

/** The transport's `status`: that of its NATS connection. */
export type JetStreamStatus = 'connected' | 'disconnected' | 'reconnecting';

/** What `on()` listens to: the NATS server the connection lost or reached. */
export type JetStreamEvents = {
  disconnect: (server: string) => void;
  reconnect: (server: string) => void;
};

export interface JetStreamServerOptions {
  /** The subjects (without the namespace) its handlers may name; a handler on any other fails the start. */
  subjects: readonly string[];
  /** The stream its consumers read; by default the namespace's, which it also sets up (and makes again if lost). */
  stream?: string;
  /** The service's durable pull consumer; a handler may name one of its own (`durable` handler option). */
  durable: string;
  /** Handler calls at once, per consumer. */
  concurrency: number;
  ackWaitMs: number;
  /** Deliveries of a message at most (max_deliver) and the backoff after a failed one. */
  attempts: AttemptPolicy;
  maxAckPending?: number;
  /** Decodes a message into `{ pattern, data }`; by default its body is the JSON payload. */
  deserializer?: ConsumerDeserializer;
}

interface ConsumerGroup {
  durable: string;
  subjects: string[];
  maxAckPending?: number;
  batch?: BatchOptions<unknown>;
  logger: Logger;
}

const messageOf = (e: unknown): string => (e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e));

/**
 * `@nestjs/microservices` transport over JetStream: `@EventPattern(subject)` handlers (in a
 * `@JetStreamController()`) are bound to durable pull consumers with explicit acks.
 *
 * - A message is acked only after its handler resolves. A handler that throws `RetryLater(ms)` has it naked with
 *   that delay instead, or on its last delivery queued again as a new message (a "not now" never drops a
 *   message nor spends attempts).
 * - Any other throw naks it with the attempt policy's backoff (1 s, 2 s, … 60 s); on its last delivery it is
 *   terminated. So a handler throws only for what a retry may cure, and settles a permanent failure of its own
 *   (the processor quarantines a file the database refuses) or throws `GiveUp`, which terminates the message at
 *   once, as does `InvalidMessage` and a payload that fails validation or cannot be decoded.
 * - Handlers run between Nest's processing hooks (tracing), as those of Nest's own transports do.
 * - Messages are kept alive with working() while a call runs (and with `ctx.working()` by the handler).
 * - Up to `concurrency` calls run at once per consumer; with the `batch` handler option one call takes every
 *   waiting message that fits and all are acked (or retried) together. A batch that fails validation is split,
 *   so that only the invalid message is terminated.
 * - The durable consumers are set up in the background once JetStream answers, so a service started while
 *   JetStream has no leader runs (not ready) and starts consuming when it has one. A consumer or stream lost
 *   (a server restarted without its store) is created again.
 * - close() (on shutdown) stops pulling and waits for in-flight calls; messages pulled but not started go back.
 */
export class JetStreamServer extends Server<JetStreamEvents, JetStreamStatus> implements CustomTransportStrategy {
  override readonly propagatesEventHandlerErrors = true;
  override transportId = JETSTREAM_TRANSPORT;
  private readonly consumers: PullConsumer[] = [];
  private readonly prefix: string;
  private readonly stream: string;
  private readonly closing = new AbortController();
  private readonly events = new EventEmitter();
  private connection?: Subscription;
  private starting?: Promise<void>;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly options: JetStreamServerOptions,
  ) {
    super();
    this.prefix = `${jetstream.namespace}.`;
    this.stream = options.stream ?? jetstream.stream;
    this.initializeDeserializer(options);
  }

  protected override initializeDeserializer(options?: Pick<JetStreamServerOptions, 'deserializer'>): void {
    this.deserializer = options?.deserializer ?? new JetStreamJsonDeserializer();
  }

  listen(callback: (err?: unknown) => void): void {
    // The service connected before the transport starts; from here on its connection's changes are the status.
    this._status$.next('connected');
    this.connection = this.jetstream.connectionChanges.subscribe((c) => this.connectionChanged(c));
    let groups: ConsumerGroup[];
    try {
      groups = this.groups();
    } catch (e) {
      callback(e);
      return;
    }
    const firstTries: Promise<void>[] = [];
    this.starting = this.start(groups, firstTries).catch((e: unknown) => {
      if (!this.closing.signal.aborted) this.logger.error(`consuming stopped before it started: ${messageOf(e)}`);
    });
    // With a JetStream that answers, the consumers exist once the transport is up; without a leader it starts without them.
    void Promise.race([this.starting, Promise.all(firstTries)]).then(() => callback());
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.starting;
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.connection?.unsubscribe();
    this.events.removeAllListeners();
  }

  on<EventKey extends keyof JetStreamEvents = keyof JetStreamEvents, EventCallback extends JetStreamEvents[EventKey] = JetStreamEvents[EventKey]>(event: EventKey, callback: EventCallback): void {
    this.events.on(event, callback);
  }

  unwrap<T>(): T {
    return this.jetstream.js as T;
  }

  /**
   * Sets each durable consumer up once JetStream answers (readiness waits for all of them), then pulls from it.
   * `firstTries` gets, synchronously, one promise per consumer that resolves after its first attempt to set it up.
   */
  private async start(groups: ConsumerGroup[], firstTries: Promise<void>[]): Promise<void> {
    const { concurrency, ackWaitMs, attempts } = this.options;
    const stream = this.stream;
    const signal = this.closing.signal;
    await Promise.all(
      groups.map(async (group) => {
        let attempted!: () => void;
        firstTries.push(new Promise<void>((resolve) => (attempted = resolve)));
        const spec = { durable: group.durable, subjects: group.subjects, ackWaitMs, maxDeliver: attempts.maxDeliveries, maxAckPending: group.maxAckPending, stream };
        // The stream first: the consumer is made on it, and it may itself be lost and made again. Another stream is not ours to make.
        const ensure = async () => {
          if (stream === this.jetstream.stream) await this.jetstream.ensureStream();
          await this.jetstream.ensureDurableConsumer(spec);
        };
        await this.jetstream.setUp(`consumer ${group.durable}`, ensure, { signal, attempted });
        if (signal.aborted) return;
        const routes = new Set<string>(group.subjects);
        const consumer = new PullConsumer(
          this.jetstream,
          {
            stream,
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
    const subjects = new Set(this.options.subjects);
    for (const [pattern, handler] of this.getHandlers()) {
      if (!handler.isEventHandler) throw new Error(`${pattern}: the JetStream transport serves @EventPattern handlers only`);
      if (!subjects.has(pattern)) throw new Error(`${pattern} is not one of the subjects of the JetStream transport (${[...subjects].join(', ')})`);
      const extras = (handler.extras ?? {}) as JetStreamHandlerOptions;
      const durable = extras.durable ?? this.options.durable;
      const group = groups.get(durable) ?? { durable, subjects: [], maxAckPending: this.options.maxAckPending, logger: new Logger(`Consumer:${durable}`) };
      group.subjects.push(pattern);
      group.maxAckPending = extras.maxAckPending ?? group.maxAckPending;
      group.batch ??= extras.batch as BatchOptions<unknown> | undefined;
      if (group.batch && group.subjects.length > 1) throw new Error(`consumer ${durable}: a batch handler needs a durable consumer of its own`);
      groups.set(durable, group);
    }
    return [...groups.values()];
  }

  /** Decodes a message with the deserializer; one on another subject of the consumer's filter is acked and skipped, one that cannot be decoded terminated. */
  private async receive(msg: JsMsg, routes: Set<string>, logger: Logger): Promise<Received | undefined> {
    const route = msg.subject.slice(this.prefix.length);
    if (!msg.subject.startsWith(this.prefix) || !routes.has(route)) {
      msg.ack();
      return undefined;
    }
    try {
      const packet = await this.deserializer.deserialize(msg, { channel: route });
      return { msg, route, data: packet.data, at: Date.now() };
    } catch (e) {
      logger.error(`terminating a message on ${msg.subject} that cannot be decoded: ${messageOf(e)}`);
      msg.term();
      return undefined;
    }
  }

  /** One handler call, then every message of it answered (ack, nak or term) as the call's outcome says. */
  private async call(group: ConsumerGroup, rs: Received[]): Promise<void> {
    const ctx = new JetStreamContext([rs.map((r) => r.msg), rs[0].msg.subject, this.options.attempts]);
    const handler = this.getHandlerByPattern(rs[0].route) as MessageHandler;
    try {
      await this.withProcessingHooks(ctx, () => handler(group.batch ? rs.map((r) => r.data) : rs[0].data, ctx));
    } catch (outcome) {
      await this.answer(group, rs, outcome);
      return;
    }
    await Promise.all(rs.map((r) => r.msg.ackAck().catch(() => r.msg.ack())));
  }

  /**
   * A handler call between Nest's processing hooks (a tracing span), as `Server.handleEvent` runs one, but
   * awaited to its end: its outcome answers the messages. Resolves or throws as the call does.
   */
  private withProcessingHooks(ctx: JetStreamContext, invoke: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started: unknown = this.runWithProcessingHooks(ctx, async (end) => {
        try {
          const result: unknown = await invoke();
          if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
          resolve();
        } catch (e) {
          reject(e);
        } finally {
          end();
        }
      });
      // A start hook that fails before running the call.
      void Promise.resolve(started).catch(reject);
    });
  }

  /** A thrown outcome: later, given up, invalid, or a failed attempt. */
  private async answer(group: ConsumerGroup, rs: Received[], outcome: unknown): Promise<void> {
    if (outcome instanceof RetryLater) {
      for (const r of rs) await this.retryLater(group, r.msg, outcome.delayMs);
      return;
    }
    if (outcome instanceof InvalidMessage) {
      // Only the message at fault goes: each of a batch is tried again on its own.
      if (rs.length > 1) for (const r of rs) await this.call(group, [r]);
      else {
        group.logger.error(`terminating invalid message on ${rs[0].msg.subject}: ${outcome.message}`);
        rs[0].msg.term();
      }
      return;
    }
    if (outcome instanceof GiveUp) {
      group.logger.error(`giving up on ${rs.length} message(s) on ${rs[0].msg.subject} after ${rs[0].msg.info.deliveryCount} deliveries: ${outcome.message}`);
      for (const { msg } of rs) msg.term();
      return;
    }
    await this.failed(group, rs, outcome);
  }

  private connectionChanged({ type, server }: ConnectionChange): void {
    if (type === 'reconnecting') this._status$.next('reconnecting');
    else {
      this._status$.next(type === 'reconnect' ? 'connected' : 'disconnected');
      this.events.emit(type, server);
    }
  }

  /**
   * JetStream drops a message nak'ed on its last delivery (max_deliver counts every delivery), and a
   * "not now" (another process holds the work) must not use up the attempts: on the last delivery the same
   * payload goes out as a new message (its id makes a repeat after a crash harmless) and this one is acked.
   */
  private async retryLater(group: ConsumerGroup, msg: JsMsg, delayMs: number): Promise<void> {
    if (!this.options.attempts.isLastDelivery(msg.info.deliveryCount)) {
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

  /** A failed attempt: retried with the policy's backoff until the last delivery, then terminated. */
  private async failed(group: ConsumerGroup, rs: Received[], error: unknown): Promise<void> {
    const { attempts } = this.options;
    for (const { msg } of rs) {
      const attempt = msg.info.deliveryCount;
      if (attempts.isLastDelivery(attempt)) {
        group.logger.error(`giving up after ${attempt} attempts: ${messageOf(error)}`);
        msg.term();
      } else {
        const delay = attempts.backoffMs(attempt);
        group.logger.warn(`attempt ${attempt} failed, retrying in ${delay} ms: ${messageOf(error)}`);
        msg.nak(delay);
      }
    }
  }
}
