/** Why a replay was refused; `code` is stable for programs (the ingest API maps it to an HTTP status). */
export type ReplayErrorCode =
  /** No ledger row with this id. */
  | 'not_found'
  /** The row is not in a state that can be replayed (still queued/processing, or a duplicate). */
  | 'not_replayable'
  /** The same content is live in the ledger as another file (replaying would load it twice). */
  | 'content_live'
  /** The stored bytes are gone or not a regular file. */
  | 'file_missing'
  /** Retention removed the stored bytes (a file's copy, a stored body); `details.expiredAt` says when. */
  | 'file_expired';

export class ReplayException extends Error {
  constructor(
    readonly code: ReplayErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ReplayException';
  }
}
