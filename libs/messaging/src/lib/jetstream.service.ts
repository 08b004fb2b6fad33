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
import { fullSubject, STREAM_SUBJECT_WILDCARDS, streamName, type FileSubject } from '@sluice/contracts';

const DAY_MS = 24 * 3600 * 1000;
const STREAM_NAME_IN_USE = 10058;
const isNotFound = (e: unknown) => e instanceof JetStreamApiError && e.status === 404;

/** The leading tokens every subject shares, each with its dot: `files.` for files.processed.v1 and files.failed.v1. */
function commonTokens(subjects: readonly string[]): string {
  const split = subjects.map((s) => s.split('.'));
  const common: string[] = [];
  for (let i = 0; split.every((t) => i < t.length - 1 && t[i] === split[0][i]); i++) common.push(`${split[0][i]}.`);
  return common.join('');
}

export interface DurableConsumerSpec {
  durable: string;
  subjects: readonly FileSubject[];
  ackWaitMs: number;
  maxDeliver: number;
  /** Redelivery delays after a failed attempt (JetStream applies them by delivery count). */
  backoffMs?: number[];
  maxAckPending?: number;
}

/**
 * One NATS connection per app, the stream of its namespace, and publishing with de-duplication ids.
 * The connection reconnects forever; callers see errors only while NATS is actually down.
 */
@Injectable()
export class JetStreamService implements OnApplicationShutdown {
  private readonly logger = new Logger(JetStreamService.name);
  private nc?: NatsConnection;
  private jsClient?: JetStreamClient;
  private manager?: JetStreamManager;
  readonly namespace: string;
  readonly stream: string;

  constructor(private readonly config: CommonConfig) {
    this.namespace = config.NATS_NAMESPACE;
    this.stream = streamName(config.NATS_NAMESPACE);
  }

  async connect(name: string): Promise<void> {
    if (this.nc) return;
    const nc = await connect({
      servers: this.config.natsServers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // Otherwise every publish and ack builds an Error (a stack trace) up front, in case it times out.
      noAsyncTraces: true,
    });
    this.nc = nc;
    void this.watchStatus(nc);
    this.manager = await jetstreamManager(nc);
    this.jsClient = jetstream(nc);
    await this.ensureStream();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') this.logger.warn(`NATS ${s.type}`);
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

  get connected(): boolean {
    return !!this.nc && !this.nc.isClosed();
  }

  /** Round trip to the JetStream API: NATS is reachable and JetStream answers. */
  async ping(): Promise<void> {
    await this.jsm.getAccountInfo();
  }

  subject(s: FileSubject): string {
    return fullSubject(this.namespace, s);
  }

  /** Limits retention: work and news share the stream; each consumer keeps its own position. */
  private async ensureStream(): Promise<void> {
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
      filter_subject: spec.subjects.length === 1 ? this.subject(spec.subjects[0]) : `${this.namespace}.${commonTokens(spec.subjects)}>`,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: spec.maxDeliver,
      max_ack_pending: spec.maxAckPending ?? 1000,
      ...(spec.backoffMs?.length ? { backoff: spec.backoffMs.map((ms) => nanos(ms)) } : {}),
    };
    try {
      await this.jsm.consumers.info(this.stream, spec.durable);
      await this.jsm.consumers.update(this.stream, spec.durable, config);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.jsm.consumers.add(this.stream, config);
    }
  }

  /**
   * Publishes a JSON payload. `msgId` makes republishing safe: JetStream drops a second message with the
   * same id within the duplicate window, and consumers are idempotent beyond it.
   */
  async publish(subject: FileSubject, payload: object, msgId: string): Promise<void> {
    await this.js.publish(this.subject(subject), JSON.stringify(payload), { msgID: msgId });
  }

  async onApplicationShutdown(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}
