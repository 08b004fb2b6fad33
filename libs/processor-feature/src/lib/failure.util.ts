import type { RejectReason } from '@sluice/contracts';
import { isConcurrentPartitionChange, SqlState } from '@sluice/db';
import { isCompressedContentError } from '@sluice/formats';

/**
 * What an error that escaped a load means for the file:
 * - `permanent`: the data itself is refused: a compressed file over a limit, corrupt or nested
 *   (CompressedContentError), or PostgreSQL SQLSTATE class 22 data exception, 23 integrity violation. Loading again gives the same answer, so the file is quarantined at once with the reason.
 *   Except 23505 (unique violation): the loaders resolve key conflicts themselves, so one that escapes is a
 *   race between replicas, which a retry settles; quarantining would drop good rows. And a row refused by the
 *   partition constraint of a default partition: a partition was made while the load ran (isConcurrentPartitionChange).
 * - `transient`: the world failed, not the file (class 08 connection, 40 serialization/deadlock, 53
 *   insufficient resources such as a full disk, 57 operator intervention, 58 system error, lock timeout; a
 *   lost connection or full disk on our side). Retried with backoff; `failed` with this reason at the end.
 * - `unknown`: anything else, such as a parser that crashed on a poison file. Retried like a transient
 *   failure, so one bad deploy or a flaky dependency costs no data; `failed` after MAX_ATTEMPTS.
 */
export type FailureKind = 'permanent' | 'transient' | 'unknown';

export interface Failure {
  kind: FailureKind;
  reason: RejectReason;
}

const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23']);
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** lock_not_available (lock_timeout), idle_in_transaction_session_timeout, unique_violation (a race, see above). */
const TRANSIENT_SQLSTATES = new Set<string>([SqlState.lockNotAvailable, SqlState.idleInTransactionSessionTimeout, SqlState.uniqueViolation]);
/** Node system errors of the machine or network, not of the file. */
const TRANSIENT_SYSTEM_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export function classifyFailure(e: unknown): Failure {
  // A gzip file or zip member over a limit, corrupt or nested: reading it again gives the same answer.
  if (isCompressedContentError(e)) return { kind: 'permanent', reason: e.reason };
  const err = e as { message?: unknown; code?: unknown; severity?: unknown } | null;
  const message = typeof err?.message === 'string' && err.message ? err.message : String(e);
  const code = typeof err?.code === 'string' ? err.code : undefined;
  // A PostgreSQL error (pg's DatabaseError) carries a severity and a five-character SQLSTATE.
  if (code && typeof err?.severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const cls = code.slice(0, 2);
    if (PERMANENT_SQLSTATE_CLASSES.has(cls) && !TRANSIENT_SQLSTATES.has(code) && !isConcurrentPartitionChange(e)) {
      return { kind: 'permanent', reason: { rule: 'rejected_by_database', message: `PostgreSQL refused the file's data: ${message} (SQLSTATE ${code}); fix the data and replay the file` } };
    }
    if (TRANSIENT_SQLSTATE_CLASSES.has(cls) || TRANSIENT_SQLSTATES.has(code) || isConcurrentPartitionChange(e)) return { kind: 'transient', reason: { rule: 'processing_failed', message: `${message} (SQLSTATE ${code})` } };
    return { kind: 'unknown', reason: { rule: 'processing_failed', message: `${message} (SQLSTATE ${code})` } };
  }
  if (code && TRANSIENT_SYSTEM_CODES.has(code)) return { kind: 'transient', reason: { rule: 'processing_failed', message } };
  // pg reports a connection lost mid-query without a code.
  if (/Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) return { kind: 'transient', reason: { rule: 'processing_failed', message } };
  return { kind: 'unknown', reason: { rule: 'processing_failed', message } };
}

/** The reason of an object whose key holds another version than the one claimed (found by its ETag), or no object at all. */
export function objectChangedReason(name: string, now: 'overwritten' | 'deleted' = 'overwritten'): RejectReason {
  if (now === 'deleted') return { rule: 'object_deleted', message: `${name} was deleted from its bucket after it was claimed; nothing of it was loaded` };
  return { rule: 'object_changed', message: `${name} was overwritten after it was claimed; the new version is loaded as a file of its own` };
}
