import type { RejectReason } from '@sluice/contracts';
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';

/** What the ledger recorded at the claim, and what a stat of the stored file shows. */
export interface ContentSnapshot {
  sha256: string;
  size: number;
}

export interface FileStat {
  size: number;
  mtimeMs: number;
}

/**
 * Proves that a load read the bytes the ledger recorded when the file was claimed. Every stream the load
 * opens is hashed as it is read; a stream read to its end must match the claim's sha256 and size, and the
 * file's size and mtime must be the same at the end of the load as at its start and as at the claim.
 * A writer that kept a descriptor open after the claim fails one of these, and the load is not committed.
 * The claim is of the content (a gzip file's uncompressed bytes), so the tap goes after decompression;
 * then (`storedIsContent` false) the stored file's size is only compared with itself. A zip member has no
 * file of its own (`atStart` null): the hash of what was read is the whole proof. So has an object of an
 * object store: `If-Match` at the start of a GET does not stop a server from serving bytes written during
 * the response, so only the hash of what arrived proves the version; a mismatch is `object_changed`.
 */
export class ClaimedContent {
  private readonly seen: ContentSnapshot[] = [];

  constructor(
    private readonly claim: ContentSnapshot,
    private readonly atStart: FileStat | null,
    private readonly storedIsContent = true,
    private readonly stored: 'file' | 'object' = 'file',
  ) {}

  /** The stream with a hash tap: bytes pass through unchanged; destroying either end destroys both. */
  tap(stream: Readable): Readable {
    return hashingTap(stream, (read) => this.seen.push(read));
  }

  /** Whether a stream was read to its end and every such read was the claimed bytes (the content itself is proven). */
  get readWhole(): boolean {
    return this.seen.length > 0 && this.seen.every((s) => s.sha256 === this.claim.sha256 && s.size === this.claim.size);
  }

  /** Null when nothing changed; otherwise the quarantine reason: `changed_after_claim` for a file, `object_changed` for an object. */
  verify(atEnd: FileStat | null): RejectReason | null {
    const read = this.seen.find((s) => s.sha256 !== this.claim.sha256 || s.size !== this.claim.size);
    const start = this.atStart;
    const statChanged =
      start !== null && atEnd !== null && ((this.storedIsContent && atEnd.size !== this.claim.size) || atEnd.size !== start.size || atEnd.mtimeMs !== start.mtimeMs);
    if (read === undefined && !statChanged) return null;
    const now = read ? `${read.size} bytes with sha256 ${read.sha256.slice(0, 12)}… were read` : `it has ${atEnd?.size ?? 0} bytes`;
    const atClaim = `${this.claim.size} bytes, sha256 ${this.claim.sha256.slice(0, 12)}… at the claim`;
    if (this.stored === 'object') {
      return {
        rule: 'object_changed',
        message:
          `the object was overwritten while it was read (${atClaim}; ${now}): nothing of either version was loaded; ` +
          'the version now under the key is claimed and loaded as a file of its own',
      };
    }
    return {
      rule: 'changed_after_claim',
      message:
        `the file changed after it was claimed (${atClaim}; ${now}): ` +
        'a writer was still writing to it, so nothing of it was loaded. Writers must rename a finished file into incoming/ or stop writing ' +
        'for STABILITY_WINDOW_MS; replay the file once it is complete',
    };
  }
}

/**
 * `stream` passed through unchanged, hashed as it goes: `done` gets the SHA-256 and size of what was read once
 * the stream ends (with `orClose`, also when it is closed early, with what was read until then), once.
 */
export function hashingTap(stream: Readable, done: (read: ContentSnapshot) => void, { orClose = false } = {}): Readable {
  const hash = createHash('sha256');
  let size = 0;
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    done({ sha256: hash.digest('hex'), size });
  };
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      report();
      cb();
    },
  });
  if (orClose) tap.once('close', report);
  pipeline(stream, tap, () => undefined);
  return tap;
}
