import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { BatchSubjects, FileBatchFinishedMessage, FileBatchQueuedMessage, FileLifecycleEvent, FileQueuedMessage, FileSubjects, isTerminal, type FileStatus } from '@sluice/contracts';
import { JetStreamService } from '@sluice/messaging';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { DataSource } from 'typeorm';

/**
 * What /events sends for one file's lifecycle change: the validated payload plus its status and the stream
 * sequence of the message that carried it. A batch message (`batches.*`) becomes one event per file, all
 * with that message's sequence.
 */
export interface LiveEvent {
  seq: number;
  data: (FileLifecycleEvent | QueuedEvent) & { status: FileStatus };
}

/** A queued message carries ids only; the event adds the name (and kind, if known) from the ledger. */
interface QueuedEvent {
  fileId: string;
  status: 'queued';
  at: string;
  originalName?: string;
  kind?: string;
}

export interface LiveSubscription {
  events: AsyncIterable<LiveEvent>;
  close(): Promise<void>;
}

/** Server-side clean-up of a consumer whose client vanished without closing it (a crash of this process). */
const INACTIVE_THRESHOLD_MS = 30_000;

/**
 * One ephemeral ordered consumer per /events client on `<namespace>.>`, delivering new messages only
 * (or, for a reconnecting client, from the sequence after its Last-Event-ID). Nothing is acked and nothing
 * durable is left behind: the consumer is deleted when the client goes, and on shutdown every stream is ended.
 * Batch messages are split into one event per file; a client resuming after a sequence resumes after the
 * whole message that had it.
 */
@Injectable()
export class LiveEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LiveEventsService.name);
  private readonly open = new Set<LiveSubscription>();
  private readonly statusBySubject: Map<string, FileStatus>;
  private readonly batchQueued: string;
  private readonly batchFinished: string;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly db: DataSource,
  ) {
    this.statusBySubject = new Map(Object.entries(FileSubjects).map(([status, subject]) => [jetstream.subject(subject), status as FileStatus]));
    this.batchQueued = jetstream.subject(BatchSubjects.queued);
    this.batchFinished = jetstream.subject(BatchSubjects.finished);
  }

  get clients(): number {
    return this.open.size;
  }

  /** `afterSeq`: resume after this stream sequence; otherwise new messages only. */
  async subscribe(afterSeq?: number): Promise<LiveSubscription> {
    const consumer = await this.jetstream.js.consumers.get(this.jetstream.stream, {
      // Every subject of the stream: file lifecycles and payload batches.
      filter_subjects: `${this.jetstream.namespace}.>`,
      inactive_threshold: INACTIVE_THRESHOLD_MS,
      ...(afterSeq === undefined ? { deliver_policy: DeliverPolicy.New } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }),
    });
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
    let closed = false;
    const subscription: LiveSubscription = {
      events: this.decode(messages),
      close: async () => {
        if (closed) return;
        closed = true;
        this.open.delete(subscription);
        await messages.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
      },
    };
    this.open.add(subscription);
    return subscription;
  }

  private async *decode(messages: ConsumerMessages): AsyncGenerator<LiveEvent> {
    for await (const m of messages) yield* await this.toEvents(m);
  }

  /** Validates a message like any consumer does; an unknown subject or a bad payload is skipped (no events). */
  private async toEvents(m: JsMsg): Promise<LiveEvent[]> {
    const status = this.statusBySubject.get(m.subject);
    if (status === undefined && m.subject !== this.batchQueued && m.subject !== this.batchFinished) return [];
    let body: unknown;
    try {
      body = m.json();
    } catch {
      this.logger.warn(`skipped a message on ${m.subject} that is not JSON`);
      return [];
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return this.skip(m);
    const queuedAt = () => new Date(m.timestamp).toISOString();
    if (m.subject === this.batchQueued) {
      const queued = plainToInstance(FileBatchQueuedMessage, body);
      if ((await validate(queued)).length > 0) return this.skip(m);
      const at = queuedAt();
      return this.named(m.seq, queued.fileIds, at);
    }
    if (m.subject === this.batchFinished) {
      const finished = plainToInstance(FileBatchFinishedMessage, body);
      if ((await validate(finished)).length > 0 || !finished.events.every((e) => isTerminal(e.status))) return this.skip(m);
      // The JSON as sent (not the transformed instances), like a single event.
      return (body as { events: FileLifecycleEvent[] }).events.map((e) => ({ seq: m.seq, data: { ...e } }));
    }
    if (status === undefined) return [];
    if (status === 'queued') {
      const queued = plainToInstance(FileQueuedMessage, body);
      if ((await validate(queued)).length > 0) return this.skip(m);
      return this.named(m.seq, [queued.fileId], queuedAt());
    }
    const event = plainToInstance(FileLifecycleEvent, body);
    if ((await validate(event)).length > 0 || event.status !== status) return this.skip(m);
    return [{ seq: m.seq, data: { ...(body as FileLifecycleEvent), status } }];
  }

  /** Queued events for these ids, each with the name and kind the ledger has for it (a person reads names, not ids). */
  private async named(seq: number, fileIds: string[], at: string): Promise<LiveEvent[]> {
    const rows: { id: string; original_name: string; kind: string | null }[] = await this.db
      .query(`SELECT id::text AS id, original_name, kind FROM ingest_files WHERE id = ANY($1::uuid[])`, [fileIds])
      .catch((e: unknown) => {
        this.logger.warn(`could not name queued files: ${(e as Error).message}`);
        return [];
      });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return fileIds.map((fileId) => {
      const row = byId.get(fileId);
      const data: QueuedEvent = { fileId, status: 'queued', at, ...(row ? { originalName: row.original_name } : {}), ...(row?.kind ? { kind: row.kind } : {}) };
      return { seq, data };
    });
  }

  private skip(m: JsMsg): [] {
    this.logger.warn(`skipped an invalid message on ${m.subject} (seq ${m.seq})`);
    return [];
  }

  /** Open event streams would hold the HTTP server open; end them before it closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.close()));
  }
}
