export type StorageErrorCode =
  /** A name or stored path that would leave its folder (`..`, absolute, NUL, wrong area). */
  | 'unsafe_path'
  /** A symlink, FIFO, socket, device or directory where a regular file was expected. */
  | 'not_regular_file'
  /** A directory on the way is a symlink or not a directory. */
  | 'unsafe_directory'
  /** Neither the source nor a destination of a move exists. */
  | 'missing'
  /** A write went past its byte limit (the partial file is removed). */
  | 'too_large';

/** Typed storage failure; `code` is stable for programs, `message` is for people. */
export class StorageException extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageException';
  }
}

export function isStorageException(e: unknown, code?: StorageErrorCode): e is StorageException {
  return e instanceof StorageException && (code === undefined || e.code === code);
}
