import { randomUUID } from 'node:crypto';
import type { S3Source } from '@sluice/config';
import type { LedgerAnnouncer, LedgerRepository, S3ObjectsRepository } from '@sluice/loading';
import type { DecompressionLimits } from '@sluice/formats';
import { claimableObjects, claimOrder, describeS3Error, objectDisplayName, objectStoredPath, S3ObjectStore, type ListedObject } from '@sluice/storage';
import { CliError } from '../cli-error';

export interface S3Location {
  bucket: string;
  prefix: string;
}

/** `s3://bucket[/prefix]` → its parts; anything else → null. */
export function parseS3Url(arg: string): S3Location | null {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(arg);
  return m ? { bucket: m[1], prefix: m[2] } : null;
}

/**
 * The configured source that reads the bucket (its endpoint and credentials), narrowed to the prefix. The
 * processors read objects through the same source, so it must be in their S3_SOURCES too.
 */
export function sourceFor(sources: readonly S3Source[], at: S3Location): S3Source {
  const candidates = sources.filter((s) => s.bucket === at.bucket);
  const source = candidates.find((s) => at.prefix.startsWith(s.prefix)) ?? candidates[0];
  if (!source) {
    throw CliError.usage(`no source in S3_SOURCES (or MINIO_*) reads bucket "${at.bucket}": configure it as for the watcher and the processors, which read the objects through it`);
  }
  return { ...source, prefix: at.prefix };
}

/**
 * Every object under the store's source prefix that is data (not a folder marker, an error report, or under the
 * source's move/quarantine prefixes), in key order, as the watcher would claim them. A listing failure is one line.
 */
export async function listDataObjects(store: S3ObjectStore): Promise<ListedObject[]> {
  const listed: ListedObject[] = [];
  try {
    for (let startAfter: string | null = null; ; ) {
      const page = await store.listPage(startAfter);
      listed.push(...claimableObjects(store.source, page.objects));
      if (!page.truncated || page.objects.length === 0) break;
      startAfter = page.objects[page.objects.length - 1].key;
    }
  } catch (e) {
    throw new CliError(describeS3Error(store.source, e));
  }
  return listed;
}

export interface BucketEnqueued {
  ids: string[];
  /** Object versions claimed before (by the watcher or an earlier backfill): not enqueued again. */
  claimedBefore: number;
  bytes: number;
}

/**
 * Claims every object under the prefix as the watcher does (one ledger row per object version, mappings
 * first, the same bytes under another key a duplicate) and announces the new ones for the processors.
 */
export async function enqueueBucket(
  source: S3Source,
  deps: { objects: S3ObjectsRepository; ledger: LedgerRepository; announcer: LedgerAnnouncer; limits?: DecompressionLimits },
): Promise<BucketEnqueued> {
  const store = new S3ObjectStore(source);
  try {
    const listed = await listDataObjects(store);
    const result: BucketEnqueued = { ids: [], claimedBefore: 0, bytes: 0 };
    for (const object of claimOrder(await deps.objects.unclaimed(source, listed))) {
      const fileId = randomUUID();
      const digest = await store.sha256AndSize(object.key, object.etag, deps.limits);
      const originalName = objectDisplayName({ bucket: source.bucket, key: object.key });
      const entry = {
        id: fileId,
        source: 's3',
        originalName,
        storedPath: objectStoredPath({ source: source.name, bucket: source.bucket, key: object.key, etag: object.etag }),
        sha256: digest.sha256,
        sizeBytes: digest.size,
        compression: digest.compression,
      } as const;
      const claim = await deps.objects.claim(source, object, entry);
      if (claim.status === 'claimed_before' || claim.status === 'existing') {
        result.claimedBefore++;
        continue;
      }
      // A duplicate is announced too: the watcher hears it and does the source's after-load action, as for a listed duplicate.
      const file = claim.status === 'duplicate' ? ((await deps.ledger.get(fileId)) ?? entry) : entry;
      await deps.announcer.announce([{ file, status: claim.status }]);
      result.ids.push(fileId);
      result.bytes += digest.size;
    }
    return result;
  } finally {
    store.destroy();
  }
}
