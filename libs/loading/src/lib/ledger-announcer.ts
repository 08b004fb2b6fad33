import { Injectable, Logger } from '@nestjs/common';
import { BatchSubjects, FileSubjects, MAX_BATCH_BYTES, MAX_BATCH_FILES, messageIds, messages, type FileSubject, type LedgerFileFacts, type Subjects } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { JetStreamService } from '@sluice/messaging';
import { Counter, register } from 'prom-client';
import { LedgerRepository, type NewLedgerEntry, type RegisterResult } from './ledger.repository';
import { isStoredInDatabase } from './stored-payloads.repository';

const FAILURES = 'sluice_publish_failures_total';
// Several apps in one process (tests) share the default registry: register once, reuse after.
const publishFailures =
  (register.getSingleMetric(FAILURES) as Counter<'subject'> | undefined) ??
  new Counter({ name: FAILURES, help: 'Messages about ledger rows that could not be published (the rows stay as the ledger has them; queued ones are requeued)', labelNames: ['subject'] as const });

/** A row as announcing it needs it: an entry just registered (NewLedgerEntry) or a stored row (IngestFile). */
export type AnnouncedFile = Omit<LedgerFileFacts, 'status'>;

/** What a registration wrote for one file (LedgerRepository.registerMany, an object claim). */
export interface Registered {
  file: AnnouncedFile;
  status: 'queued' | 'duplicate' | 'existing';
  /** The live row a duplicate repeats, when known. */
  duplicateOf?: string | null;
}

/**
 * The one step that puts files on the queue: their ledger rows first (the truth), then their messages. New
 * work goes out as `files.queued` (payloads stored in the database as `batches.queued`, loaded together), a
 * new duplicate as `files.duplicate` news. The watcher, the ingest-api, the archive expander, replay and the
 * CLI's backfill all announce through here, with one policy for a publish that fails:
 *
 * it is logged, counted in `sluice_publish_failures_total{subject}` and not thrown. The row is already
 * written, so nothing is lost: JetStreamService sends the message again by itself once JetStream takes
 * publishes, and the watcher's requeue publishes rows left `queued` for REQUEUE_AFTER_MS (also when this
 * process stops first). No claim, 202, archive outcome or replay fails because NATS is down.
 */
@Injectable()
export class LedgerAnnouncer {
  private readonly logger = new Logger(LedgerAnnouncer.name);

  constructor(
    private readonly ledger: LedgerRepository,
    private readonly jetstream: JetStreamService,
  ) {}

  /**
   * Registers one file, then announces it: a row left `queued` (new, or registered before) as work, a new
   * duplicate as news, unless `announceDuplicate` is false (the watcher moves a duplicate first and then
   * announces it with `duplicate`).
   */
  async register(entry: NewLedgerEntry, { announceDuplicate = true }: { announceDuplicate?: boolean } = {}): Promise<RegisterResult> {
    const result = await this.ledger.register(entry);
    if (result.row.status === 'queued') await this.announce([{ file: result.row, status: 'queued' }]);
    else if (result.status === 'duplicate' && announceDuplicate) await this.announce([{ file: result.row, status: 'duplicate' }]);
    return result;
  }

  /** Announces rows the caller registered itself (in its own transaction, once committed, or by an object claim). Returns the publishes that failed. */
  async announce(registered: readonly Registered[]): Promise<number> {
    const sent = new Outbox(this.jetstream);
    const payloads: AnnouncedFile[] = [];
    for (const { file, status, duplicateOf } of registered) {
      if (status === 'queued' && isStoredInDatabase(file.storedPath)) payloads.push(file);
      else if (status === 'queued') sent.publish(FileSubjects.queued, messages.queued(file), messageIds.queued(file.id));
      else if (status === 'duplicate') {
        const row = { ...file, status: 'duplicate' as const, duplicateOf: duplicateOf ?? file.duplicateOf };
        sent.publish(FileSubjects.duplicate, messages.lifecycle(row), messageIds.duplicate(file.id));
      }
    }
    for (const batch of payloadBatches(payloads)) sent.publish(BatchSubjects.queued, messages.batchQueued(batch), messageIds.batchQueued(batch[0].id));
    return this.awaitPublishes(sent);
  }

  /** Announces a row put back to `queued` (a replay, a re-drive) under the msg id that names that requeue. Returns false when the publish failed. */
  async requeued(row: IngestFile, msgId: string): Promise<boolean> {
    const sent = new Outbox(this.jetstream);
    sent.publish(FileSubjects.queued, messages.queued(row), msgId);
    return (await this.awaitPublishes(sent)) === 0;
  }

  /** News that a row is a duplicate, for the watcher once it has moved the file (or done the object's after-load action). */
  async duplicate(row: IngestFile): Promise<void> {
    const sent = new Outbox(this.jetstream);
    sent.publish(FileSubjects.duplicate, messages.lifecycle(row), messageIds.duplicate(row.id));
    await this.awaitPublishes(sent);
  }

  /** Waits for every publish; failures are counted, and logged in one line. Returns how many failed. */
  private async awaitPublishes(sent: Outbox): Promise<number> {
    const results = await Promise.allSettled(sent.items.map((s) => s.done));
    const failed = sent.items.filter((_, i) => results[i].status === 'rejected');
    for (const f of failed) publishFailures.inc({ subject: f.subject });
    if (failed.length) {
      const first = failed[0];
      const reason = (results[sent.items.indexOf(first)] as PromiseRejectedResult).reason as unknown;
      this.logger.warn(
        `${failed.length} of ${sent.items.length} publish(es) failed, the first ${first.msgId} on ${first.subject} (${reason instanceof Error ? reason.message : String(reason)}): ` +
          `sent again once JetStream takes publishes; the ledger has the rows, and the watcher requeues any left queued`,
      );
    }
    return failed.length;
  }
}

/** Publishes started together, each typed by its subject. */
class Outbox {
  readonly items: Array<{ subject: FileSubject; msgId: string; done: Promise<void> }> = [];

  constructor(private readonly jetstream: JetStreamService) {}

  publish<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string): void {
    this.items.push({ subject, msgId, done: this.jetstream.publish(subject, payload, msgId) });
  }
}

/** Payloads stored in the database, in order, cut into batch messages of at most MAX_BATCH_FILES and MAX_BATCH_BYTES of bodies (at least one each). */
export function payloadBatches<T extends Pick<LedgerFileFacts, 'sizeBytes'>>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Number(row.sizeBytes);
    const last = out.at(-1);
    if (last && last.length < MAX_BATCH_FILES && bytes + size <= MAX_BATCH_BYTES) {
      last.push(row);
      bytes += size;
    } else {
      out.push([row]);
      bytes = size;
    }
  }
  return out;
}
