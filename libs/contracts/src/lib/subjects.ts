import type { FileStatus } from './file-status';

/**
 * Every NATS subject Sluice uses. The full subject is `<namespace>.<suffix>`; the namespace defaults to
 * `sluice` (so `sluice.files.queued.v1`) and can be changed with NATS_NAMESPACE so that two stacks share
 * one NATS server. Producers and consumers import these constants; nobody types a subject string.
 */
export const DEFAULT_NAMESPACE = 'sluice';

export const FileSubjects = {
  /** Work: a file is registered in the ledger and waits for a processor. */
  queued: 'files.queued.v1',
  /** News: a processor started on a file. */
  processing: 'files.processing.v1',
  /** Outcomes: the ledger row reached a terminal state. */
  processed: 'files.processed.v1',
  quarantined: 'files.quarantined.v1',
  duplicate: 'files.duplicate.v1',
  failed: 'files.failed.v1',
} as const;

/**
 * Small API payloads travel in batches: the ingest-api registers many in one transaction and queues them
 * with one message; a processor loads them in one transaction and announces their outcomes with one.
 * Outside `files.>`, so consumers of file subjects (the watcher) never receive them.
 */
export const BatchSubjects = {
  /** Work: payloads stored in the database, registered together (FileBatchQueuedMessage). */
  queued: 'batches.queued.v1',
  /** News: the terminal states one batch load committed (FileBatchFinishedMessage). */
  finished: 'batches.finished.v1',
} as const;

export type FileSubject = (typeof FileSubjects)[keyof typeof FileSubjects] | (typeof BatchSubjects)[keyof typeof BatchSubjects];

/** Subjects that announce a terminal ledger state; the watcher moves files when it hears them. */
export const OUTCOME_SUBJECTS: readonly FileSubject[] = [
  FileSubjects.processed,
  FileSubjects.quarantined,
  FileSubjects.duplicate,
  FileSubjects.failed,
];

export function fullSubject(namespace: string, subject: FileSubject): string {
  return `${namespace}.${subject}`;
}

/** Subject wildcards (under the namespace) of the stream: file work and news, payload batches. */
export const STREAM_SUBJECT_WILDCARDS = ['files.>', 'batches.>'] as const;

/** JetStream stream holding every file and batch subject of one namespace. */
export function streamName(namespace: string): string {
  return namespace.toUpperCase().replace(/[^A-Z0-9_-]/g, '_') + '_FILES';
}

/** The lifecycle subject that announces a ledger status. */
export function subjectOfStatus(status: FileStatus): FileSubject {
  return FileSubjects[status];
}
