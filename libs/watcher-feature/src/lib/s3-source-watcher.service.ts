import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { WatcherConfig, type S3Source } from '@sluice/config';
import { LedgerAnnouncer, S3ObjectsRepository } from '@sluice/loading';
import { PeriodicJobs, ReadinessRegistry } from '@sluice/observability';
import { claimableObjects, claimOrder, describeS3Error, isMappingObject, isNoSuchKey, isObjectChanged, nextPosition, objectDisplayName, ObjectStores, objectStoredPath, type ListedObject, type S3ObjectStore } from '@sluice/storage';
import { randomUUID } from 'node:crypto';
import { Semaphore, TaskTracker } from './concurrency.util';
import { OutcomeMover } from './outcome-mover.service';
import { WatcherMetrics } from './watcher.metrics';

/** Pages (of S3_LIST_PAGE_SIZE keys) one listing round reads per source at most; the checkpoint carries the rest to the next round. */
const MAX_PAGES_PER_ROUND = 100;
/** Objects hashed and claimed at the same time per source. */
const CLAIM_CONCURRENCY = 4;
/** The listing's periodic job (its name in the SchedulerRegistry). */
const LIST_JOB = 'watcher.s3-list';

/** Deleted or overwritten between the listing and the read: the next pass sees what the key holds then. */
const isGone = (e: unknown) => isObjectChanged(e) || isNoSuchKey(e);

/**
 * Lists every object-store source on an interval, in pages from a checkpoint, and claims each object version
 * not claimed before (hash, ledger, publish). A source that fails (bucket gone, credentials refused, endpoint
 * down) is logged once, reported in /health/ready and by `sluice_s3_source_up`, and the others go on.
 */
@Injectable()
export class S3SourceWatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(S3SourceWatcher.name);
  private readonly problems = new Map<string, string>();
  private round?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly config: WatcherConfig,
    private readonly stores: ObjectStores,
    private readonly objects: S3ObjectsRepository,
    private readonly announcer: LedgerAnnouncer,
    private readonly mover: OutcomeMover,
    private readonly tasks: TaskTracker,
    private readonly metrics: WatcherMetrics,
    private readonly readiness: ReadinessRegistry,
    private readonly jobs: PeriodicJobs,
  ) {}

  onApplicationBootstrap(): void {
    for (const store of this.stores.all) {
      const name = store.source.name;
      this.readiness.register(`s3:${name}`, () => {
        const problem = this.problems.get(name);
        return problem ? Promise.reject(new Error(problem)) : Promise.resolve();
      }, { required: false });
    }
    if (this.stores.all.length === 0) return;
    void this.listAll();
    this.jobs.every(LIST_JOB, this.config.S3_LIST_INTERVAL_MS, () => this.listAll());
    this.logger.log(`listing ${this.stores.all.map((s) => `${s.source.name} (s3://${s.bucket}/${s.source.prefix})`).join(', ')} every ${this.config.S3_LIST_INTERVAL_MS} ms`);
  }

  /** One round over every source (never two rounds at once); a failing source does not stop the others. */
  listAll(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.round ??= this.tasks.track(Promise.all(this.stores.all.map((store) => this.listSource(store))).then(() => undefined)).finally(() => (this.round = undefined));
    return this.round;
  }

  /** The last listing error of a source, or null when it was listed fine. */
  problemOf(name: string): string | null {
    return this.problems.get(name) ?? null;
  }

  private async listSource(store: S3ObjectStore): Promise<void> {
    const source = store.source;
    try {
      let at = await this.objects.position(source);
      for (let page = 0; page < MAX_PAGES_PER_ROUND && !this.stopping; page++) {
        const listed = await store.listPage(at.startAfter, this.config.S3_LIST_PAGE_SIZE);
        const fresh = await this.objects.unclaimed(source, claimOrder(claimableObjects(source, listed.objects)));
        await this.claimAll(store, fresh);
        const next = nextPosition(at, listed);
        await this.objects.savePosition(source, next, listed.objects.length);
        if (next.generation !== at.generation) break;
        at = next;
      }
      await this.settlePending(source);
      this.healthy(source);
    } catch (e) {
      this.failed(source, e);
    }
  }

  /** Mappings one by one first (claimOrder put them first), then the rest CLAIM_CONCURRENCY at a time. */
  private async claimAll(store: S3ObjectStore, fresh: readonly ListedObject[]): Promise<void> {
    const limit = new Semaphore(CLAIM_CONCURRENCY);
    const mappings = fresh.filter(isMappingObject);
    for (const o of mappings) await this.claim(store, o);
    // Every claim runs to its end before a failure is reported, so that nothing outlives the round.
    const results = await Promise.allSettled(fresh.filter((o) => !mappings.includes(o)).map((o) => limit.run(() => this.claim(store, o))));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Reads the object once to hash it, before the processor reads it again to load it. Kept on purpose: the
   * ledger knows every row's SHA-256 from its claim on (its unique index is what makes the same bytes a
   * `duplicate`), so a duplicate costs one read here and is never loaded; hashing during the load instead would
   * turn each duplicate into a full load rolled back. This read runs beside the processors' loads (the
   * `s3` bench section measures the whole path against the drop folder).
   */
  private async claim(store: S3ObjectStore, object: ListedObject): Promise<void> {
    let digest;
    try {
      digest = await store.sha256AndSize(object.key, object.etag, this.config.decompressionLimits);
    } catch (e) {
      if (isGone(e)) return;
      throw e;
    }
    const fileId = randomUUID();
    const source = store.source;
    const entry = {
      id: fileId,
      source: 's3',
      originalName: objectDisplayName({ bucket: source.bucket, key: object.key }),
      storedPath: objectStoredPath({ source: source.name, bucket: source.bucket, key: object.key, etag: object.etag }),
      sha256: digest.sha256,
      sizeBytes: digest.size,
      compression: digest.compression,
    } as const;
    const claim = await this.objects.claim(source, object, entry);
    switch (claim.status) {
      case 'claimed_before':
      case 'existing':
        return;
      case 'queued':
        await this.announcer.announce([{ file: entry, status: 'queued' }]);
        this.metrics.claimed.inc();
        this.metrics.registered.inc();
        this.logger.log(`queued ${fileId} (s3://${store.bucket}/${object.key}, ${digest.size} bytes, sha256 ${digest.sha256.slice(0, 12)}…)`);
        return;
      case 'duplicate':
        this.metrics.claimed.inc();
        this.metrics.duplicates.inc();
        this.logger.log(`${fileId} (s3://${store.bucket}/${object.key}) duplicates earlier content`);
        await this.mover.settleById(fileId);
        return;
    }
  }

  /** After-load actions whose outcome event was missed (or whose action failed): the ledger row is the truth. */
  private async settlePending(source: S3Source): Promise<void> {
    for (const id of await this.objects.unsettled(source)) await this.mover.settleById(id);
  }

  private healthy(source: S3Source): void {
    this.metrics.s3SourceUp.set({ source: source.name }, 1);
    if (this.problems.delete(source.name)) this.logger.log(`source "${source.name}" is listed again`);
  }

  private failed(source: S3Source, e: unknown): void {
    this.metrics.s3SourceUp.set({ source: source.name }, 0);
    const problem = describeS3Error(source, e);
    // One log line per distinct problem, not one per round.
    if (this.problems.get(source.name) !== problem) this.logger.error(problem);
    this.problems.set(source.name, problem);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.jobs.stop(LIST_JOB);
    await this.round;
    this.stores.destroy();
  }
}
