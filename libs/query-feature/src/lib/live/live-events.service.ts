import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { QueryApiConfig } from '@sluice/config';
import { BatchSubjects, FileBatchFinishedMessage, FileBatchQueuedMessage, FileLifecycleEvent, FileQueuedMessage, FileSubjects, isTerminal, type FileStatus } from '@sluice/contracts';
import { JetStreamService } from '@sluice/messaging';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { DataSource } from 'typeorm';
import { FeedOverrunError, LiveFeed } from './live-feed';

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

/** MAX_SSE_CLIENTS streams are open: the next one is refused until one closes. */
export class TooManyLiveClientsError extends Error {
  constructor(readonly max: number) {
    super(`${max} live event streams are open (MAX_SSE_CLIENTS)`);
  }
}

/** Server-side clean-up of a consumer whose client vanished without closing it (a crash of this process). */
const INACTIVE_THRESHOLD_MS = 30_000;

/** The shared feed and the clients reading it; stopped when the last one goes. */
interface ActiveFeed {
  feed: LiveFeed<LiveEvent>;
  readers: number;
  closed: boolean;
  close(): Promise<void>;
}

/**
 * The live events of every /events client from ONE ephemeral ordered consumer on `<namespace>.>`, decoded
 * once and shared through a LiveFeed (a ring of the last events that each client reads at its own pace), so
 * a client costs a position in the ring, not a consumer, a decoding or a queue of its own. A client that
 * resumes after a Last-Event-ID the feed still holds reads it from there; an older one first catches up on
 * an ephemeral consumer of its own, then joins the feed. Nothing is acked and nothing durable is left
 * behind: consumers are deleted when their last client goes, and on shutdown every stream is ended.
 * Batch messages are split into one event per file; a client resuming after a sequence resumes after the
 * whole message that had it. At most MAX_SSE_CLIENTS streams are open at once.
 */
@Injectable()
export class LiveEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LiveEventsService.name);
  private readonly open = new Set<LiveSubscription>();
  private readonly statusBySubject: Map<string, FileStatus>;
  private readonly batchQueued: string;
  private readonly batchFinished: string;
  /** Streams open or being opened: counted before any await, so a burst cannot overshoot the bound. */
  private slots = 0;
  private current?: ActiveFeed;
  private starting?: Promise<ActiveFeed>;

  constructor(
    private readonly jetstream: JetStreamService,
    private readonly db: DataSource,
    private readonly config: QueryApiConfig,
  ) {
    this.statusBySubject = new Map(Object.entries(FileSubjects).map(([status, subject]) => [jetstream.subject(subject), status as FileStatus]));
    this.batchQueued = jetstream.subject(BatchSubjects.queued);
    this.batchFinished = jetstream.subject(BatchSubjects.finished);
  }

  get clients(): number {
    return this.open.size;
  }

  /**
   * `afterSeq`: resume after this stream sequence; otherwise new messages only. Throws
   * TooManyLiveClientsError past MAX_SSE_CLIENTS, and NATS's error when no consumer can be opened.
   */
  async subscribe(afterSeq?: number): Promise<LiveSubscription> {
    if (this.slots >= this.config.MAX_SSE_CLIENTS) throw new TooManyLiveClientsError(this.config.MAX_SSE_CLIENTS);
    this.slots++;
    let active: ActiveFeed | undefined;
    try {
      active = await this.attach();
      const abort = new AbortController();
      const position = active.feed.positionAfter(afterSeq);
      const catchUp = position === undefined ? await this.openCatchUp(afterSeq as number) : undefined;
      const feed = active.feed;
      let closed = false;
      const subscription: LiveSubscription = {
        events: catchUp ? this.caughtUp(catchUp, feed, abort.signal) : feed.read(position as number, abort.signal),
        close: async () => {
          if (closed) return;
          closed = true;
          abort.abort();
          this.open.delete(subscription);
          this.slots--;
          this.detach(active as ActiveFeed);
          await catchUp?.delete().catch(() => undefined);
        },
      };
      this.open.add(subscription);
      return subscription;
    } catch (e) {
      this.slots--;
      if (active) this.detach(active);
      throw e;
    }
  }

  /** The running feed with one more reader, started if there is none. */
  private async attach(): Promise<ActiveFeed> {
    for (;;) {
      if (this.current && !this.current.closed) {
        this.current.readers++;
        return this.current;
      }
      this.starting ??= this.startFeed().finally(() => (this.starting = undefined));
      await this.starting;
    }
  }

  private detach(active: ActiveFeed): void {
    active.readers--;
    if (active.readers === 0) void active.close();
  }

  /** One ordered consumer from the message after the stream's last, its events appended to a new feed. */
  private async startFeed(): Promise<ActiveFeed> {
    const { state } = await this.jetstream.jsm.streams.info(this.jetstream.stream);
    const consumer = await this.jetstream.js.consumers.get(this.jetstream.stream, {
      // Every subject of the stream: file lifecycles and payload batches.
      filter_subjects: `${this.jetstream.namespace}.>`,
      inactive_threshold: INACTIVE_THRESHOLD_MS,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: state.last_seq + 1,
    });
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
    const feed = new LiveFeed<LiveEvent>(state.last_seq);
    const active: ActiveFeed = {
      feed,
      readers: 0,
      closed: false,
      close: async () => {
        if (active.closed) return;
        active.closed = true;
        if (this.current === active) this.current = undefined;
        feed.stop();
        await messages.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
      },
    };
    void (async () => {
      try {
        for await (const m of messages) for (const e of await this.toEvents(m)) feed.append(e);
      } catch (e) {
        this.logger.warn(`the live event consumer failed: ${(e as Error).message}`);
      } finally {
        // Readers end when they have read what it had; EventSource reconnects and a new feed starts.
        await active.close();
      }
    })();
    this.current = active;
    return active;
  }

  /** An ephemeral ordered consumer for a client resuming after `afterSeq`, which the feed no longer holds. */
  private openCatchUp(afterSeq: number): Promise<Consumer> {
    return this.jetstream.js.consumers.get(this.jetstream.stream, {
      filter_subjects: `${this.jetstream.namespace}.>`,
      inactive_threshold: INACTIVE_THRESHOLD_MS,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
    });
  }

  /** The events up to where the feed began from the catch-up consumer (then deleted), then the feed's. */
  private async *caughtUp(consumer: Consumer, feed: LiveFeed<LiveEvent>, signal: AbortSignal): AsyncGenerator<LiveEvent> {
    try {
      // Nothing to catch up on: consume() would wait for a message that may never come.
      if ((await consumer.info()).num_pending > 0) {
        const messages = await consumer.consume({ max_messages: 256 });
        const stop = () => void messages.close();
        signal.addEventListener('abort', stop, { once: true });
        try {
          for await (const m of messages) {
            if (m.seq > feed.startSeq) break;
            yield* await this.toEvents(m);
            // Caught up: the feed holds what follows (pending counts every later message of the stream).
            if (m.seq === feed.startSeq || m.info.pending === 0) break;
          }
        } finally {
          signal.removeEventListener('abort', stop);
          await messages.close().catch(() => undefined);
        }
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    if (signal.aborted) return;
    const position = feed.positionAfter(feed.startSeq);
    if (position === undefined) throw new FeedOverrunError();
    yield* feed.read(position, signal);
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
    await this.current?.close();
  }
}
