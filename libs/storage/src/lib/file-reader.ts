import type { Readable } from 'node:stream';
import type { ByteRange, DropAreas } from './drop-areas';
import type { ObjectStores } from './object-stores';
import { isStoredInObjectStore, parseObjectStoredPath } from './s3-stored-path.util';

/** Where a ledger row's bytes are read from: its stored_path names the drop folder or an object store. */
export interface StoredFileReader {
  /** Whether this reader serves the row's stored_path. */
  serves(storedPath: string): boolean;
  /** A stream of the bytes (or of `range` of them); errors (missing file, changed object) surface on the stream or are thrown. */
  open(storedPath: string, range?: ByteRange): Readable;
}

export class DropFolderReader implements StoredFileReader {
  constructor(private readonly drop: DropAreas) {}

  serves(storedPath: string): boolean {
    return !isStoredInObjectStore(storedPath);
  }

  open(storedPath: string, range?: ByteRange): Readable {
    return this.drop.openRead(storedPath, range);
  }
}

export class ObjectStoreReader implements StoredFileReader {
  constructor(private readonly stores: ObjectStores) {}

  serves(storedPath: string): boolean {
    return isStoredInObjectStore(storedPath);
  }

  open(storedPath: string, range?: ByteRange): Readable {
    const loc = parseObjectStoredPath(storedPath);
    if (!loc) throw new Error(`"${storedPath}" is not an object-store path`);
    const store = this.stores.get(loc.source);
    // A row of a source since removed from S3_SOURCES: a configuration matter, retried until attempts run out.
    if (!store) throw new Error(`object-store source "${loc.source}" of ${storedPath} is not configured (S3_SOURCES)`);
    if (store.bucket !== loc.bucket) throw new Error(`source "${loc.source}" now reads bucket "${store.bucket}", not "${loc.bucket}" of ${storedPath}`);
    return store.openRead(loc.key, loc.etag, range);
  }
}

/** The first reader that serves a stored path. */
export class StoredFileReaders {
  constructor(private readonly readers: readonly StoredFileReader[]) {}

  open(storedPath: string, range?: ByteRange): Readable {
    const reader = this.readers.find((r) => r.serves(storedPath));
    if (!reader) throw new Error(`no reader serves ${storedPath}`);
    return reader.open(storedPath, range);
  }
}
