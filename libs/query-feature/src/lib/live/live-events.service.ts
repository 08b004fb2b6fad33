import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { FileLifecycleEvent, FileQueuedMessage, FileSubjects, type FileStatus } from '@sluice/contracts';
import { JetStreamService } from '@sluice/messaging';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';

/** What /events sends for one lifecycle message: the validated payload plus its status and stream sequence. */
export interface LiveEvent {
  seq: number;
  data: (FileLifecycleEvent | { fileId: string; status: 'queued'; at: string }) & { status: FileStatus };
}

export interface LiveSubscription {
  events: AsyncIterable<LiveEvent>;
  close(): Promise<void>;
}

/** Server-side clean-up of a consumer whose client vanished without closing it (a crash of this process). */
const INACTIVE_THRESHOLD_MS = 30_000;

/**
 * One ephemeral ordered consumer per /events client on `<namespace>.files.>`, delivering new messages only
 * (or, for a reconnecting client, from the sequence after its Last-Event-ID). Nothing is acked and nothing
 * durable is left behind: the consumer is deleted when the client goes, and on shutdown every stream is ended.
 */
@Injectable()
export class LiveEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LiveEventsService.name);
  private readonly open = new Set<LiveSubscription>();
  private readonly statusBySubject: Map<string, FileStatus>;

  constructor(private readonly jetstream: JetStreamService) {
    this.statusBySubject = new Map(Object.entries(FileSubjects).map(([status, subject]) => [jetstream.subject(subject), status as FileStatus]));
  }

  get clients(): number {
    return this.open.size;
  }

  /** `afterSeq`: resume after this stream sequence; otherwise new messages only. */
  async subscribe(afterSeq?: number): Promise<LiveSubscription> {
    const consumer = await this.jetstream.js.consumers.get(this.jetstream.stream, {
      filter_subjects: `${this.jetstream.namespace}.files.>`,
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
    for await (const m of messages) {
      const event = await this.toEvent(m);
      if (event) yield event;
    }
  }

  /** Validates a message like any consumer does; an unknown subject or a bad payload is skipped. */
  private async toEvent(m: JsMsg): Promise<LiveEvent | undefined> {
    const status = this.statusBySubject.get(m.subject);
    if (status === undefined) return undefined;
    let body: unknown;
    try {
      body = m.json();
    } catch {
      this.logger.warn(`skipped a message on ${m.subject} that is not JSON`);
      return undefined;
    }
    if (status === 'queued') {
      const queued = plainToInstance(FileQueuedMessage, body);
      if ((await validate(queued)).length > 0) return this.skip(m);
      return { seq: m.seq, data: { fileId: queued.fileId, status, at: new Date(m.timestamp).toISOString() } };
    }
    const event = plainToInstance(FileLifecycleEvent, body);
    if ((await validate(event)).length > 0 || event.status !== status) return this.skip(m);
    return { seq: m.seq, data: { ...(body as FileLifecycleEvent), status } };
  }

  private skip(m: JsMsg): undefined {
    this.logger.warn(`skipped an invalid message on ${m.subject} (seq ${m.seq})`);
    return undefined;
  }

  /** Open event streams would hold the HTTP server open; end them before it closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.close()));
  }
}
