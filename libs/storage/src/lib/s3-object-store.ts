import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Source } from '@sluice/config';
import { contentDigest, DEFAULT_DECOMPRESSION_LIMITS, type ContentDigest, type DecompressionLimits } from '@sluice/formats';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ByteRange } from './drop-areas';

export interface ListedObject {
  key: string;
  /** As the server sends it, quotes included: it names one version of the bytes. */
  etag: string;
  size: number;
}

export interface ObjectPage {
  objects: ListedObject[];
  /** More keys follow the last one of this page. */
  truncated: boolean;
}

type Sdk = typeof import('@aws-sdk/client-s3');
let loadedSdk: Sdk | undefined;
/** The SDK loads on first use: services and commands without object-store sources never pay its ~20 MB and 0.4 s. */
function sdk(): Sdk {
  return (loadedSdk ??= require('@aws-sdk/client-s3') as Sdk);
}

/** The HTTP status of an error the S3 service answered with (undefined for network and other errors). */
export function s3StatusOf(e: unknown): number | undefined {
  const err = e as { $fault?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  return err && typeof err === 'object' && err.$fault !== undefined ? err.$metadata?.httpStatusCode : undefined;
}

/** The key holds no object (deleted, or never there). */
export function isNoSuchKey(e: unknown): boolean {
  return (e as { name?: string }).name === 'NoSuchKey' || s3StatusOf(e) === 404;
}

/** Attempts at one read after a transient failure (the SDK's own retries come on top, per request). */
const READ_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 5000;
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

/** True for failures worth retrying: the network, throttling, a server error. Not a missing object, a refusal or a changed ETag. */
export function isTransientS3Error(e: unknown): boolean {
  const status = s3StatusOf(e);
  if (status !== undefined) return status >= 500 || status === 429 || (e as { $retryable?: unknown }).$retryable !== undefined;
  const err = e as { code?: string; name?: string; cause?: { code?: string } };
  return TRANSIENT_CODES.has(err.code ?? '') || TRANSIENT_CODES.has(err.cause?.code ?? '') || err.name === 'TimeoutError';
}

/** A read found another version under the key than the one claimed. */
export class ObjectChangedError extends Error {
  constructor(key: string, expected: string, found: string) {
    super(`${key} now has ETag ${found}, not the claimed ${expected}`);
    this.name = 'ObjectChangedError';
  }
}

/** The object's ETag no longer matches the claimed one: the key now holds other bytes (a new version). */
export function isObjectChanged(e: unknown): boolean {
  return e instanceof ObjectChangedError || s3StatusOf(e) === 412 || (e as { name?: string }).name === 'PreconditionFailed';
}

/** One sentence for a person: what is wrong with the source (bucket, credentials, endpoint), without a stack. */
export function describeS3Error(source: S3Source, e: unknown): string {
  const where = `source "${source.name}" (bucket "${source.bucket}" at ${source.endpoint ?? 'AWS S3'})`;
  const name = (e as { name?: string }).name ?? 'Error';
  const status = s3StatusOf(e);
  if (name === 'NoSuchBucket' || (name === 'NotFound' && status === 404)) return `${where}: the bucket does not exist`;
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken'].includes(name) || status === 403 || status === 401) {
    return `${where}: the credentials were refused (${name})`;
  }
  const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code;
  if (code) return `${where}: cannot reach the endpoint (${code})`;
  return `${where}: ${name}: ${(e as Error).message}`;
}

/** The S3 client of one source, and the few calls Sluice makes with it. */
export class S3ObjectStore {
  readonly client: S3Client;

  /** `client` replaces the SDK's own (a test's fake); by default one is made from the source. */
  constructor(
    readonly source: S3Source,
    client?: S3Client,
  ) {
    this.client = client ?? new (sdk().S3Client)({
      region: source.region,
      endpoint: source.endpoint,
      forcePathStyle: source.pathStyle,
      credentials: source.accessKeyId && source.secretAccessKey ? { accessKeyId: source.accessKeyId, secretAccessKey: source.secretAccessKey } : undefined,
      // Only the checksums S3 requires: S3-compatible servers differ in which of the newer ones they accept.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get bucket(): string {
    return this.source.bucket;
  }

  /** Fails with the server's error when the bucket is missing or the credentials are refused. */
  async check(): Promise<void> {
    await this.client.send(new (sdk().HeadBucketCommand)({ Bucket: this.bucket }));
  }

  /** One page of keys under the source's prefix, in key order, after `startAfter` (a resumable position, unlike a continuation token). */
  async listPage(startAfter: string | null, maxKeys = 1000): Promise<ObjectPage> {
    const res = await this.client.send(
      new (sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: this.source.prefix || undefined, StartAfter: startAfter ?? undefined, MaxKeys: maxKeys }),
    );
    const objects = (res.Contents ?? []).flatMap((o) => (o.Key !== undefined && o.ETag !== undefined ? [{ key: o.Key, etag: o.ETag, size: Number(o.Size ?? 0) }] : []));
    return { objects, truncated: res.IsTruncated === true };
  }

  /**
   * Streams one version of an object (If-Match its ETag). A transient failure, even mid-body, is retried with
   * backoff from the byte where it stopped (a Range request), so a long read survives a dropped connection.
   * Memory is bounded by the stream's buffer; nothing is written to disk.
   */
  openRead(key: string, etag: string, range?: ByteRange): Readable {
    const abort = new AbortController();
    const stream = Readable.from(this.chunks(key, etag, abort.signal, range), { objectMode: false });
    stream.once('close', () => abort.abort());
    return stream;
  }

  private async *chunks(key: string, etag: string, signal: AbortSignal, range?: ByteRange): AsyncGenerator<Buffer> {
    let offset = range?.start ?? 0;
    if (range && range.end <= range.start) return;
    for (let failures = 0; ; ) {
      try {
        const last = range ? `${range.end - 1}` : '';
        const res = await this.client.send(
          new (sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key, IfMatch: etag, Range: offset > 0 || range ? `bytes=${offset}-${last}` : undefined }),
          { abortSignal: signal },
        );
        // Servers that ignore If-Match still name the version they send.
        if (res.ETag !== undefined && res.ETag !== etag) {
          (res.Body as Readable).destroy();
          throw new ObjectChangedError(key, etag, res.ETag);
        }
        for await (const chunk of res.Body as Readable) {
          const buf = chunk as Buffer;
          offset += buf.length;
          failures = 0;
          yield buf;
        }
        return;
      } catch (e) {
        if (signal.aborted || !isTransientS3Error(e) || ++failures >= READ_ATTEMPTS) throw e;
        await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1)));
      }
    }
  }

  /** SHA-256 and size of one version of an object's content (a gzip object's uncompressed bytes), streamed. */
  sha256AndSize(key: string, etag: string, limits: DecompressionLimits = DEFAULT_DECOMPRESSION_LIMITS): Promise<ContentDigest> {
    return contentDigest(this.openRead(key, etag), limits);
  }

  async put(key: string, body: string | Buffer, contentType?: string): Promise<void> {
    await this.client.send(new (sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  /** Server-side copy of one version (If-Match its ETag) to another key of the bucket. */
  async copy(fromKey: string, etag: string, toKey: string): Promise<void> {
    await this.client.send(new (sdk().CopyObjectCommand)({ Bucket: this.bucket, Key: toKey, CopySource: `${this.bucket}/${encodeURIComponent(fromKey).replace(/%2F/g, '/')}`, CopySourceIfMatch: etag }));
  }

  /** The ETag the key holds now, or null when there is no such object. */
  async etagOf(key: string): Promise<string | null> {
    try {
      return (await this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: key }))).ETag ?? null;
    } catch (e) {
      if (s3StatusOf(e) === 404) return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new (sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: key }));
  }

  destroy(): void {
    this.client.destroy();
  }
}
