import type { RejectReason } from '@sluice/contracts';
import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ChunkReclaimer } from '../stream/chunk-reclaimer';

/** How a stored file is packed: a gzip stream (one file inside) or a zip archive (its members are files of their own). */
export type Compression = 'gzip' | 'zip';

/** Bytes the magic numbers need. */
export const MAGIC_BYTES = 4;

/**
 * The packing of a file from its first bytes, never its name: gzip `1f 8b 08` (deflate, the only method
 * gzip defines), zip `PK\3\4` (a local file header) or `PK\5\6` (an empty archive's end record).
 */
export function sniffCompression(head: Buffer): Compression | null {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return 'zip';
  return null;
}

/** MAX_DECOMPRESSED_BYTES and MAX_COMPRESSION_RATIO. */
export interface DecompressionLimits {
  maxBytes: number;
  maxRatio: number;
}

/** The defaults of MAX_DECOMPRESSED_BYTES (20 GiB) and MAX_COMPRESSION_RATIO (200). */
export const DEFAULT_DECOMPRESSION_LIMITS: DecompressionLimits = { maxBytes: 20 * 1024 ** 3, maxRatio: 200 };

/**
 * The ratio is checked once this much has come out: a small file that expands a lot (a few KB of one
 * repeated line) is no threat, and deflate's output comes in bursts the input count lags behind.
 */
export const RATIO_CHECK_AFTER_BYTES = 1024 ** 2;

/** A compressed file refused as a whole: over a limit, corrupt, or holding another archive. */
export class CompressedContentError extends Error {
  constructor(readonly reason: RejectReason) {
    super(reason.message);
    this.name = 'CompressedContentError';
  }
}

export function isCompressedContentError(e: unknown): e is CompressedContentError {
  return e instanceof CompressedContentError || (e as { name?: unknown } | null)?.name === 'CompressedContentError';
}

/**
 * Counts what a decompression yields and refuses it, mid-stream, past MAX_DECOMPRESSED_BYTES or past
 * MAX_COMPRESSION_RATIO times the compressed bytes read so far (`compressedIn`). `name` is for messages.
 */
export class DecompressionGuard {
  private out = 0;

  constructor(
    private readonly limits: DecompressionLimits,
    private readonly name: string,
  ) {}

  get bytesOut(): number {
    return this.out;
  }

  /** Throws CompressedContentError when `n` more bytes break a limit. */
  add(n: number, compressedIn: number): void {
    this.out += n;
    if (this.out > this.limits.maxBytes) {
      throw decompressionLimit(`${this.name} decompresses to more than ${this.limits.maxBytes} bytes (MAX_DECOMPRESSED_BYTES); reading stopped there`);
    }
    if (this.out > RATIO_CHECK_AFTER_BYTES && this.out > this.limits.maxRatio * Math.max(1, compressedIn)) {
      throw decompressionLimit(
        `${this.name} expands more than ${this.limits.maxRatio} times (MAX_COMPRESSION_RATIO): ${compressedIn} compressed bytes gave ${this.out}; a decompression bomb is refused, reading stopped there`,
      );
    }
  }
}

function decompressionLimit(message: string): CompressedContentError {
  return new CompressedContentError({ rule: 'decompression_limit', message });
}

export function nestedArchive(name: string, inner: Compression): CompressedContentError {
  return new CompressedContentError({ rule: 'nested_archive', message: `${name} holds another compressed file (${inner}); archives inside archives are refused: unpack the inner one and send its files` });
}

export function invalidCompression(name: string, kind: Compression, why: string): CompressedContentError {
  return new CompressedContentError({ rule: 'invalid_compression', message: `${name} is not a readable ${kind} file: ${why}` });
}

/** Reads an async iterator until at least MAGIC_BYTES (or the end): the head, and the iterator to go on with. */
async function readHead(it: AsyncIterator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < MAGIC_BYTES) {
    const r = await it.next();
    if (r.done) break;
    const buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as unknown as string);
    parts.push(buf);
    length += buf.length;
  }
  return Buffer.concat(parts);
}

async function* prepend(head: Buffer, it: AsyncIterator<Buffer>, counted?: (n: number) => void): AsyncGenerator<Buffer> {
  if (head.length) {
    counted?.(head.length);
    yield head;
  }
  for (let r = await it.next(); !r.done; r = await it.next()) {
    counted?.(r.value.length);
    yield r.value;
  }
}

export interface DecompressOptions {
  /** For messages: the file's name. */
  name: string;
  /** The stream is already one member of an archive (or its compressed bytes were unpacked once): a compressed head is refused. */
  nested?: boolean;
}

/**
 * The content of a stored file as a stream: a gzip file decompressed (guarded by `limits`), anything else
 * as it is. A decompressed content that is itself compressed (and any compressed head when `nested`) is
 * refused as `nested_archive`. Refusals are CompressedContentError on the stream. Destroying the result
 * destroys the source. Backpressure holds end to end: nothing is inflated faster than it is read.
 */
export function decompressed(source: Readable, limits: DecompressionLimits, opts: DecompressOptions): Readable {
  async function* content(): AsyncGenerator<Buffer> {
    const it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      const head = await readHead(it);
      const packed = sniffCompression(head);
      if (packed && opts.nested) throw nestedArchive(opts.name, packed);
      if (packed !== 'gzip') {
        yield* prepend(head, it);
        return;
      }
      let compressedIn = 0;
      const gunzip = createGunzip();
      pipeline(Readable.from(prepend(head, it, (n) => (compressedIn += n))), gunzip, () => undefined);
      const guard = new DecompressionGuard(limits, opts.name);
      let first = true;
      try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
          guard.add(chunk.length, compressedIn);
          if (first) {
            // One level only: the inner head decides (a few bytes always come out first).
            const inner = chunk.length >= MAGIC_BYTES ? sniffCompression(chunk) : null;
            if (inner) throw nestedArchive(opts.name, inner);
            first = false;
          }
          yield chunk;
        }
      } catch (e) {
        if (isCompressedContentError(e)) throw e;
        if ((e as { code?: unknown }).code === 'Z_DATA_ERROR' || (e as { code?: unknown }).code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((e as Error).message)) {
          throw invalidCompression(opts.name, 'gzip', (e as Error).message);
        }
        throw e;
      } finally {
        gunzip.destroy();
      }
    } finally {
      await it.return?.();
      source.destroy();
    }
  }
  return Readable.from(content(), { objectMode: false });
}

/** SHA-256 and byte count. */
export interface Digest {
  sha256: string;
  size: number;
}

/** The identity a file is registered with, and how it is packed. */
export interface ContentDigest extends Digest {
  compression: Compression | null;
}

/**
 * The identity of a file's content, streamed: the SHA-256 and size of what it holds UNCOMPRESSED, so the
 * same data gzipped or not is the same content (a `duplicate`). A zip archive is its own bytes (its members
 * are registered one by one when it is unpacked). A gzip file that breaks a limit or is corrupt keeps the
 * hash of its compressed bytes: the processor refuses it with the reason when it reads it.
 */
export async function contentDigest(source: AsyncIterable<Buffer>, limits: DecompressionLimits): Promise<ContentDigest> {
  const it = source[Symbol.asyncIterator]();
  const head = await readHead(it);
  const compression = sniffCompression(head);
  const raw = createHash('sha256');
  let rawSize = 0;
  const reclaimer = new ChunkReclaimer();
  if (compression !== 'gzip') {
    for await (const chunk of prepend(head, it)) {
      raw.update(chunk);
      rawSize += chunk.length;
      reclaimer.done(chunk.length);
    }
    return { sha256: raw.digest('hex'), size: rawSize, compression };
  }
  const content = createHash('sha256');
  const guard = new DecompressionGuard(limits, 'the file');
  let gunzip: ReturnType<typeof createGunzip> | null = createGunzip();
  let failed = false;
  gunzip.on('data', (chunk: Buffer) => {
    try {
      guard.add(chunk.length, rawSize);
      content.update(chunk);
      reclaimer.done(chunk.length);
    } catch {
      stop();
    }
  });
  gunzip.on('error', () => stop());
  const ended = new Promise<void>((resolve) => {
    gunzip?.once('end', resolve);
    gunzip?.once('close', resolve);
  });
  function stop(): void {
    failed = true;
    gunzip?.destroy();
    gunzip = null;
  }
  for await (const chunk of prepend(head, it)) {
    raw.update(chunk);
    rawSize += chunk.length;
    reclaimer.done(chunk.length);
    const g = gunzip;
    if (g && !g.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          g.off('drain', done);
          g.off('close', done);
          resolve();
        };
        g.on('drain', done);
        g.on('close', done);
      });
    }
  }
  gunzip?.end();
  await ended;
  if (failed) return { sha256: raw.digest('hex'), size: rawSize, compression };
  return { sha256: content.digest('hex'), size: guard.bytesOut, compression };
}
