import { DecompressionGuard, invalidCompression, isCompressedContentError, CompressedContentError, type DecompressionLimits } from '@sluice/formats';
import { Readable, Transform } from 'node:stream';
import * as yauzl from 'yauzl';
import type { ByteRange } from './drop-areas';

/**
 * Zip archives are read with yauzl, by their central directory (the only authoritative list of members),
 * through ranged reads of the stored bytes: a file of the drop folder or an upload (an fd read), an object
 * of an object store (ranged GETs of the claimed ETag) or a payload kept in the database. Nothing is ever
 * unpacked to disk or held whole: a member is inflated as a stream while it is read. yauzl rather than
 * unzipper's streaming parser: reading local headers front to back trusts headers the central directory
 * may contradict (and cannot size a stored member written with a data descriptor); yauzl checks each
 * member's real size against the declared one and refuses paths with `..` or a leading `/`.
 */

/** Most entries one archive may hold: each member becomes a ledger row, and a member's load finds it by walking the directory. */
export const MAX_ARCHIVE_MEMBERS = 10000;

export interface ArchiveMember {
  /** Place among the archive's file members (directories skipped), from 0. */
  index: number;
  name: string;
  compressedSize: number;
  uncompressedSize: number;
}

/** Opens a byte range of the stored archive. */
export type RangeOpener = (range: ByteRange) => Readable;

class RangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly openRange: RangeOpener) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    try {
      return this.openRange({ start, end });
    } catch (e) {
      // yauzl reads inside its own callbacks: a throw there would escape every caller, an error on the stream does not.
      return Readable.from(
        (async function* () {
          yield* [];
          throw e;
        })(),
      );
    }
  }
}

/** Turns yauzl's complaints about the archive's structure into a quarantine reason. */
function asInvalid(name: string, e: unknown): unknown {
  if (isCompressedContentError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  // I/O failures (a missing file, a dropped connection) stay what they are: retried, not refused.
  if (typeof code === 'string' && code !== 'Z_DATA_ERROR' && code !== 'Z_BUF_ERROR') return e;
  if ((e as { name?: unknown } | null)?.name === 'ObjectChangedError') return e;
  return invalidCompression(name, 'zip', (e as Error).message);
}

/** One zip archive opened for reading, for one pass over its directory (`members()` or `openMember()`); `close()` when done. */
export class ZipArchive {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly name: string,
    private readonly limits: DecompressionLimits,
  ) {}

  static async open(openRange: RangeOpener, totalSize: number, name: string, limits: DecompressionLimits): Promise<ZipArchive> {
    try {
      const zip = await yauzl.fromRandomAccessReaderPromise(new RangeReader(openRange), totalSize, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
      if (zip.entryCount > MAX_ARCHIVE_MEMBERS) {
        zip.close();
        throw tooManyMembers(name);
      }
      return new ZipArchive(zip, name, limits);
    } catch (e) {
      throw asInvalid(name, e);
    }
  }

  /** The file members in directory order (directories are skipped); a member's declared sizes are checked against the limits. */
  async *members(): AsyncGenerator<ArchiveMember & { entry: yauzl.Entry }> {
    let index = 0;
    try {
      for await (const entry of this.zip.eachEntry()) {
        if (entry.fileName.endsWith('/')) continue;
        this.checkDeclared(entry);
        yield { index, name: entry.fileName, compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize, entry };
        index++;
      }
    } catch (e) {
      throw asInvalid(this.name, e);
    }
  }

  /** The content of member `index`, inflated as it is read and guarded by the limits; null when there is no such member. */
  async openMember(index: number): Promise<{ member: ArchiveMember; stream: Readable } | null> {
    for await (const m of this.members()) {
      if (m.index === index) return { member: m, stream: await this.read(m) };
    }
    return null;
  }

  /** The content of a member given by `members()`. */
  async read(m: ArchiveMember & { entry: yauzl.Entry }): Promise<Readable> {
    const label = `${this.name}/${m.name}`;
    if (m.entry.isEncrypted()) throw invalidCompression(label, 'zip', 'the member is encrypted');
    let raw: Readable;
    try {
      raw = await this.zip.openReadStreamPromise(m.entry);
    } catch (e) {
      throw asInvalid(label, e);
    }
    const guard = new DecompressionGuard(this.limits, label);
    const out = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        try {
          guard.add(chunk.length, m.compressedSize);
          cb(null, chunk);
        } catch (e) {
          cb(e as Error);
        }
      },
    });
    raw.on('error', (e) => out.destroy(asInvalid(label, e) as Error));
    out.once('close', () => raw.destroy());
    return raw.pipe(out);
  }

  close(): void {
    this.zip.close();
  }

  /** Declared sizes over the limits refuse the member before a byte of it is inflated (yauzl holds it to them while reading). */
  private checkDeclared(entry: yauzl.Entry): void {
    const label = `${this.name}/${entry.fileName}`;
    if (entry.uncompressedSize > this.limits.maxBytes) {
      throw new CompressedContentError({ rule: 'decompression_limit', message: `${label} declares ${entry.uncompressedSize} bytes, more than ${this.limits.maxBytes} (MAX_DECOMPRESSED_BYTES)` });
    }
    // Two checks, one rule: the guard applies the same ratio while the member is read.
    new DecompressionGuard(this.limits, label).add(entry.uncompressedSize, entry.compressedSize);
  }
}

function tooManyMembers(name: string): CompressedContentError {
  return new CompressedContentError({ rule: 'too_many_members', message: `${name} holds more than ${MAX_ARCHIVE_MEMBERS} entries; split it into smaller archives` });
}

/**
 * The ledger's stored_path of a zip member: `archive/<archive file id>/<member index>`. The bytes are read
 * from the archive wherever its own row says it is now. No drop-folder area has this name.
 */
export const ARCHIVE_AREA = 'archive';

export function memberStoredPath(archiveId: string, index: number): string {
  return `${ARCHIVE_AREA}/${archiveId}/${index}`;
}

export function isArchiveMember(storedPath: string): boolean {
  return storedPath.startsWith(`${ARCHIVE_AREA}/`);
}
