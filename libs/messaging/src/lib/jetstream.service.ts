import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { CommonConfig } from '@sluice/config';
import { fullSubject, STREAM_SUBJECT_WILDCARDS, streamName, type FileSubject, type Subjects } from '@sluice/contracts';
import { Subject } from 'rxjs';

const DAY_MS = 24 * 3600 * 1000;
/** Failed publishes kept to be sent again; past this the oldest are left to the ledger's requeue. */
const MAX_UNSENT = 10_000;
/** Between attempts to send them again while JetStream does not take them. */
const RESEND_RETRY_MS = 250;
const STREAM_NAME_IN_USE = 10058;
/** Between attempts to set up the stream or a consumer while JetStream does not answer (no leader yet). */
const SET_UP_RETRY_MS = 500;
const isNotFound = (e: unknown) => e instanceof JetStreamApiError && e.status === 404;
/** A configuration the server refuses: waiting does not cure it. Anything else (timeout, no responders, no leader, no peers) may pass. */
const isRefused = (e: unknown) => e instanceof JetStreamApiError && e.status === 400;
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number, signal?: AbortSignal, unref = false) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    // A wait that must not keep a process (a CLI command) alive.
    if (unref) timer.unref();
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** The leading tokens every subject shares, each with its dot: `files.` for files.processed.v1 and files.failed.v1. */
function commonTokens(subjects: readonly string[]): string {
  const split = subjects.map((s) => s.split('.'));
  const common: string[] = [];
  for (let i = 0; split.every((t) => i < t.length - 1 && t[i] === split[0][i]); i++) common.push(`${split[0][i]}.`);
  return common.join('');
}

export interface DurableConsumerSpec {
  durable: string;
  /** Subjects without the namespace. */
  subjects: readonly string[];
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending?: number;
  /** The stream the consumer reads; by default the namespace's. */
  stream?: string;
}

/** A change of the NATS connection, as the transport reports it (see JetStreamServer's `status` and `on()`). */
export interface ConnectionChange {
  type: 'disconnect' | 'reconnecting' | 'reconnect';
  /** The server left or reached; none while reconnecting. */
  server?: string;
}

/**
 * Whether JetStream delivers to this process's pull consumers: each message and each server heartbeat (sent
 * every half second to an idle pull) is a sign; a stall is a stretch with neither while no handler call runs
 * (a busy consumer pulls nothing, so its silence means nothing). After a restart of every NATS node the
 * consumers' leaders take up to ~10 s to be elected; work can be taken from the ledger meanwhile.
 */
export class DeliverySigns {
  private lastSignAt = Date.now();
  private calls = 0;

  sign(): void {
    this.lastSignAt = Date.now();
  }

  /** A handler call started; end() when it settles. */
  callStarted(): { end(): void } {
    this.calls++;
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        this.calls--;
        this.sign();
      },
    };
  }

  /** No sign for `ms` and no call running. */
  stalledFor(ms: number): boolean {
    return this.calls === 0 && Date.now() - this.lastSignAt >= ms;
  }
}

/**
 * One NATS connection per app, the stream of its namespace, and publishing with de-duplication ids.
 * The connection reconnects forever; callers see errors only while NATS is actually down. The stream and the
 * consumers are set up as soon as JetStream answers: a JetStream without a leader (a cluster that lost its
 * quorum, a server just started) leaves the service running and not ready until it has one.
 */
@Injectable()
export class JetStreamService implements OnApplicationShutdown {
  private readonly logger = new Logger(JetStreamService.name);
  private nc?: NatsConnection;
  private jsClient?: JetStreamClient;
  private manager?: JetStreamManager;
  private streamSetUp?: Promise<void>;
  /** Set-up steps waiting for JetStream, and why the last attempt failed. */
  private readonly pending = new Set<string>();
  private lastSetUpError?: string;
  private refused?: string;
  private waitLogged = false;
  /** Publishes that failed, by msg id, sent again in the background until JetStream takes them. */
  private readonly unsent = new Map<string, { subject: string; data: string }>();
  private resending?: Promise<void>;
  private dropped = 0;
  /** Signs that JetStream delivers to this process's consumers. */
  readonly delivery = new DeliverySigns();
  /** Emits after each reconnection: consumers pull again at once rather than wait for missed heartbeats. */
  readonly reconnected = new Subject<void>();
  /** Every change of the connection, for the transports' status. */
  readonly connectionChanges = new Subject<ConnectionChange>();
  readonly namespace: string;
  readonly stream: string;

  constructor(private readonly config: CommonConfig) {
    this.namespace = config.NATS_NAMESPACE;
    this.stream = streamName(config.NATS_NAMESPACE);
  }

  /**
   * Connects (a NATS that cannot be reached fails here) and sets the stream up, waiting for JetStream to answer;
   * with `waitForJetStream: false` only the first attempt is waited for (so with a JetStream that answers the
   * stream exists once this resolves), and the set-up goes on in the background, `/health/ready` reporting it.
   */
  async connect(name: string, { waitForJetStream = true }: { waitForJetStream?: boolean } = {}): Promise<void> {
    if (this.nc) return this.streamSetUp;
    const nc = await connect({
      servers: this.config.natsServers,
      name,
      maxReconnectAttempts: -1,
      // A restarted server is back within a second or two: try often, each client at its own moment.
      reconnectTimeWait: 250,
      reconnectJitter: 250,
      // A server gone without closing the connection (a lost host) is noticed after two unanswered pings.
      pingInterval: 5000,
      maxPingOut: 2,
      // Otherwise every publish and ack builds an Error (a stack trace) up front, in case it times out.
      noAsyncTraces: true,
    });
    this.nc = nc;
    void this.watchStatus(nc);
    // No API round trip here: without a JetStream leader it would time out and fail the start.
    this.manager = await jetstreamManager(nc, { checkAPI: false });
    this.jsClient = jetstream(nc);
    let attempted!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
    this.streamSetUp = this.setUp('stream', () => this.ensureStream(), { attempted });
    if (waitForJetStream) await this.streamSetUp;
    else {
      this.streamSetUp.catch(() => undefined);
      await firstAttempt;
    }
  }

  /**
   * Runs a set-up step until JetStream takes it (one line logged while it waits, one when it answers); the
   * service is not ready meanwhile. Only a configuration the server refuses ends it with an error. `attempted`
   * is called after each attempt; `signal` ends the retries.
   */
  async setUp(what: string, step: () => Promise<void>, { signal, attempted }: { signal?: AbortSignal; attempted?: () => void } = {}): Promise<void> {
    this.pending.add(what);
    try {
      for (;;) {
        try {
          await step().finally(attempted);
          return;
        } catch (e) {
          if (!this.nc || this.nc.isClosed() || signal?.aborted) throw e;
          if (isRefused(e)) {
            this.refused = `${what}: ${messageOf(e)}`;
            this.logger.error(`JetStream refused to set up ${this.refused}`);
            throw e;
          }
          this.lastSetUpError = messageOf(e);
          if (!this.waitLogged) this.logger.warn(`JetStream does not answer (${this.lastSetUpError}): waiting for it to set up the ${what}; not ready until then`);
          this.waitLogged = true;
          await sleep(SET_UP_RETRY_MS, signal);
        }
      }
    } finally {
      this.pending.delete(what);
      if (!this.pending.size && this.waitLogged && !this.refused) {
        this.waitLogged = false;
        this.logger.log('JetStream answers: stream and consumers set up');
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') this.logger.warn(`NATS ${s.type}`);
      if (s.type === 'reconnect') this.reconnected.next();
      if (s.type === 'disconnect' || s.type === 'reconnect') this.connectionChanges.next({ type: s.type, server: s.server });
      if (s.type === 'reconnecting') this.connectionChanges.next({ type: s.type });
    }
  }

  get js(): JetStreamClient {
    if (!this.jsClient) throw new Error('JetStream is not connected');
    return this.jsClient;
  }

  get jsm(): JetStreamManager {
    if (!this.manager) throw new Error('JetStream is not connected');
    return this.manager;
  }

  /** Round trip to the JetStream API: NATS is reachable, JetStream answers and the stream and consumers are set up. */
  async ping(): Promise<void> {
    if (this.refused) throw new Error(`JetStream refused to set up ${this.refused}`);
    if (this.pending.size) throw new Error(`JetStream not ready: waiting to set up the ${[...this.pending].join(', ')} (${this.lastSetUpError ?? 'first attempt'})`);
    await this.jsm.getAccountInfo();
  }

  subject(s: FileSubject): string {
    return fullSubject(this.namespace, s);
  }

  /** Limits retention: work and news share the stream; each consumer keeps its own position. Also re-creates a lost stream. */
  async ensureStream(): Promise<void> {
    const config = {
      name: this.stream,
      subjects: STREAM_SUBJECT_WILDCARDS.map((w) => `${this.namespace}.${w}`),
      storage: StorageType.File,
      num_replicas: this.config.NATS_STREAM_REPLICAS,
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * DAY_MS),
      duplicate_window: nanos(10 * 60 * 1000),
    };
    try {
      const info = await this.jsm.streams.info(this.stream);
      // A stream made by an older version lacks newer subjects; a changed replica count is applied too.
      if (config.subjects.some((x) => !info.config.subjects?.includes(x)) || info.config.num_replicas !== config.num_replicas) {
        await this.jsm.streams.update(this.stream, { ...info.config, subjects: config.subjects, num_replicas: config.num_replicas });
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await this.jsm.streams.add(config);
      } catch (addErr) {
        // Another service created it first.
        if (!(addErr instanceof JetStreamApiError) || addErr.code !== STREAM_NAME_IN_USE) throw addErr;
      }
    }
  }

  /** Creates or updates a durable pull consumer with explicit acks. */
  async ensureDurableConsumer(spec: DurableConsumerSpec): Promise<void> {
    const config = {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One subject filters exactly; several share the wildcard of their common tokens (NATS 2.9 has no
      // filter_subjects) and the transport skips the others.
      filter_subject: `${this.namespace}.${spec.subjects.length === 1 ? spec.subjects[0] : `${commonTokens(spec.subjects)}>`}`,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: spec.maxDeliver,
      max_ack_pending: spec.maxAckPending ?? 1000,
    };
    const stream = spec.stream ?? this.stream;
    try {
      await this.jsm.consumers.info(stream, spec.durable);
      await this.jsm.consumers.update(stream, spec.durable, config);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.jsm.consumers.add(stream, config);
    }
  }

  /**
   * Publishes the payload of a subject (typed by `Subjects`; payloads from `messages`, ids from `messageIds`).
   * `msgId` makes republishing safe: JetStream drops a second message with the same id within the duplicate
   * window, and consumers are idempotent beyond it. A publish that fails (NATS down, the stream without a
   * leader after a restart) throws, and is also sent again in the background as soon as JetStream takes it,
   * so work announced during an outage moves within moments of its end rather than at the ledger's next
   * requeue (which still covers a process that stops first). Rows registered in the ledger are announced
   * through LedgerAnnouncer (@sluice/loading), which owns what a caller does when this throws.
   */
  async publish<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string): Promise<void> {
    const full = this.subject(subject);
    const data = JSON.stringify(payload);
    try {
      await this.js.publish(full, data, { msgID: msgId });
    } catch (e) {
      // A message the server refuses stays refused; anything else (no leader, timeout, disconnected) passes.
      if (!isRefused(e)) this.resendLater(msgId, full, data);
      throw e;
    }
  }

  /**
   * Queues a publish to go out in the background, after (and in order with) the failed ones waiting: for news
   * sent while JetStream is known not to take publishes, which no caller should wait out a timeout for.
   */
  publishLater<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string): void {
    this.resendLater(msgId, this.subject(subject), JSON.stringify(payload));
  }

  /** How many failed publishes wait to be sent again. */
  get unsentCount(): number {
    return this.unsent.size;
  }

  private resendLater(msgId: string, subject: string, data: string): void {
    if (!this.nc || this.nc.isClosed()) return;
    this.unsent.delete(msgId);
    this.unsent.set(msgId, { subject, data });
    if (this.unsent.size > MAX_UNSENT) {
      this.unsent.delete(this.unsent.keys().next().value as string);
      if (this.dropped++ === 0) this.logger.warn(`more than ${MAX_UNSENT} publishes wait to be sent again: the oldest are left to the ledger's requeue`);
    }
    this.resending ??= this.resend().finally(() => (this.resending = undefined));
  }

  /** Sends the failed publishes again, oldest first, until none is left (or the connection is closed). */
  private async resend(): Promise<void> {
    let sent = 0;
    while (this.unsent.size && this.nc && !this.nc.isClosed()) {
      await sleep(RESEND_RETRY_MS, undefined, true);
      for (const [msgId, { subject, data }] of this.unsent) {
        if (!this.nc || this.nc.isClosed()) return;
        try {
          await this.js.publish(subject, data, { msgID: msgId });
          sent++;
        } catch (e) {
          if (!isRefused(e)) break; // not yet: wait and try again from the oldest
          this.logger.error(`JetStream refused ${msgId} on ${subject}: ${messageOf(e)}`);
        }
        this.unsent.delete(msgId);
      }
    }
    if (sent) this.logger.log(`sent ${sent} publish(es) that had waited for JetStream`);
    this.dropped = 0;
  }

  async onApplicationShutdown(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    this.reconnected.complete();
    this.connectionChanges.complete();
    this.unsent.clear();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}
