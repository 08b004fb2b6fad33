import type { FileBatchFinishedMessage, FileBatchQueuedMessage, FileLifecycleEvent, FileQueuedMessage } from './file-events';
import type { FileKind, FileStatus, RejectReason } from './file-status';
import { BatchSubjects, FileSubjects, type FileSubject } from './subjects';

/**
 * The payload of every subject. JetStreamService.publish is typed by it, so a subject cannot be sent with
 * another subject's payload; a new subject is a constant in subjects.ts and a line here.
 */
export interface Subjects {
  [FileSubjects.queued]: FileQueuedMessage;
  [FileSubjects.processing]: FileLifecycleEvent;
  [FileSubjects.processed]: FileLifecycleEvent;
  [FileSubjects.quarantined]: FileLifecycleEvent;
  [FileSubjects.duplicate]: FileLifecycleEvent;
  [FileSubjects.failed]: FileLifecycleEvent;
  [BatchSubjects.queued]: FileBatchQueuedMessage;
  [BatchSubjects.finished]: FileBatchFinishedMessage;
}

// Every subject has a payload here and nothing else does: this fails to compile when the two lists part.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
type _EverySubjectHasAPayload = Holds<Same<keyof Subjects, FileSubject>>;

/**
 * What a message may say about a ledger row. A stored row (IngestFile) and an entry being registered both
 * have these fields, so producers hand over their rows and the payloads are made below: a new field of a
 * message is a change of this file alone.
 */
export interface LedgerFileFacts {
  id: string;
  originalName: string;
  /** Where its bytes are: a drop-folder path, `database/<id>` (a payload), an object or an archive member. */
  storedPath: string;
  /** A bigint column: text when read from the database. */
  sizeBytes: number | string;
  status: FileStatus;
  kind?: FileKind | null;
  rowsLoaded?: number | string;
  rowsRejected?: number | string;
  duplicateOf?: string | null;
  error?: RejectReason | null;
}

/** The payload of each subject, made from ledger rows (the row is the truth; a message is work or news). */
export const messages = {
  /** `files.queued`: the work item, the ledger id only (never the contents). */
  queued: (file: Pick<LedgerFileFacts, 'id'>): FileQueuedMessage => ({ fileId: file.id }),

  /** `batches.queued`: payloads stored in the database, loaded together (the caller keeps to MAX_BATCH_FILES and MAX_BATCH_BYTES). */
  batchQueued: (files: readonly Pick<LedgerFileFacts, 'id' | 'sizeBytes'>[]): FileBatchQueuedMessage => ({
    fileIds: files.map((f) => f.id),
    bytes: files.reduce((n, f) => n + Number(f.sizeBytes), 0),
  }),

  /** The lifecycle event that announces a row's current state: `files.processing` and the outcome subjects. */
  lifecycle: (row: Omit<LedgerFileFacts, 'sizeBytes' | 'storedPath'>, extra: { durationMs?: number } = {}): FileLifecycleEvent => ({
    fileId: row.id,
    status: row.status,
    originalName: row.originalName,
    ...(row.kind ? { kind: row.kind } : {}),
    ...(row.rowsLoaded !== undefined ? { rowsLoaded: Number(row.rowsLoaded) } : {}),
    ...(row.rowsRejected !== undefined ? { rowsRejected: Number(row.rowsRejected) } : {}),
    ...(extra.durationMs !== undefined ? { durationMs: extra.durationMs } : {}),
    ...(row.duplicateOf ? { duplicateOf: row.duplicateOf } : {}),
    ...(row.error ? { error: row.error } : {}),
    at: new Date().toISOString(),
  }),

  /** `batches.finished`: the terminal states one batch load committed. */
  batchFinished: (rows: readonly Omit<LedgerFileFacts, 'sizeBytes' | 'storedPath'>[], extra: { durationMs?: number } = {}): FileBatchFinishedMessage => ({
    events: rows.map((r) => messages.lifecycle(r, extra)),
  }),
};

/** A row's updated_at in milliseconds (a Date from TypeORM, text from a raw query). */
const millis = (t: Date | string | number): number => new Date(t).getTime();

/**
 * Every JetStream msg id Sluice publishes with. JetStream drops a second message with an id it saw within
 * its duplicate window (10 minutes), so an id says which publishes are the same message sent again (a
 * retry after a crash, two watchers at once) and which are new work or news that must not be dropped (a
 * requeue, a replay, the next attempt). Consumers are idempotent beyond the window. Changing an id changes
 * what is de-duplicated.
 */
export const messageIds = {
  /** The first publish of a registered file: its id. */
  queued: (fileId: string): string => fileId,
  /** The watcher's requeue of a stale row: two watchers requeueing it at once collapse, and the first publish cannot swallow it. */
  requeue: (row: { id: string; updatedAt: Date | string }): string => `${row.id}.requeue.${millis(row.updatedAt)}`,
  /** The n-th replay of a file. */
  replay: (fileId: string, replays: number): string => `${fileId}.replay.${replays}`,
  /** A re-drive of a row stuck in queued/processing. */
  redrive: (row: { id: string; updatedAt: Date | string }): string => `${row.id}.redrive.${millis(row.updatedAt)}`,
  /** A payload of a batch that failed as a whole, queued alone after its attempt. */
  alone: (row: { id: string; attempts: number }): string => `${row.id}.alone.${row.attempts}`,
  /** News: an attempt at a file started. */
  processing: (row: { id: string; attempts: number }): string => `${row.id}.processing.${row.attempts}`,
  /** News: a file registered as a duplicate of content already loaded. */
  duplicate: (fileId: string): string => `${fileId}.duplicate`,
  /** News: a terminal state. The replay count makes a replay's outcome news again rather than a repeat. */
  outcome: (row: { id: string; status: FileStatus; replays: number }): string => `${row.id}.${row.status}.${row.replays}`,
  /** Payloads registered together, named by the first. */
  batchQueued: (firstId: string): string => `batch.${firstId}`,
  /** The watcher's requeue of stale payloads, named by the first, its updated_at and how many. */
  batchRequeue: (first: { id: string; updatedAt: Date | string }, count: number): string => `batch.requeue.${first.id}.${millis(first.updatedAt)}.${count}`,
  /** The outcomes of one batch load, named by the first and how many. */
  batchFinished: (firstId: string, count: number): string => `${firstId}.batch.${count}`,
  /** A delivered message sent again as a new one by the transport (its attempts used up by "not now"), named by its stream sequence. */
  again: (streamSequence: number): string => `${streamSequence}.again`,
};
