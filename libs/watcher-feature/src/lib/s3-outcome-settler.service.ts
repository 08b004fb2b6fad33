import { Injectable, Logger } from '@nestjs/common';
import { isTerminal } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerAnnouncer, LedgerRepository, S3ObjectsRepository } from '@sluice/loading';
import { ERROR_REPORT_SUFFIX, isNoSuchKey, isObjectChanged, ObjectStores, objectStoredPath, parseObjectStoredPath, type ObjectLocation, type S3ObjectStore } from '@sluice/storage';
import { WatcherMetrics } from './watcher.metrics';

export type ObjectSettleResult = 'moved' | 'not_terminal' | 'missing' | 'unknown';

/**
 * Does the source's after-load action for an object whose ledger row is terminal: keep, delete, or move a
 * loaded (or duplicate) object; write a quarantined one's `<key>.error.json` beside it, or move both under the
 * quarantine prefix. Each step is safe to repeat; `s3_objects.settled_at` marks the whole as done.
 */
@Injectable()
export class S3OutcomeSettler {
  private readonly logger = new Logger(S3OutcomeSettler.name);

  constructor(
    private readonly stores: ObjectStores,
    private readonly objects: S3ObjectsRepository,
    private readonly ledger: LedgerRepository,
    private readonly announcer: LedgerAnnouncer,
    private readonly metrics: WatcherMetrics,
  ) {}

  /** Caller holds the file's lock and a fresh row; `report` builds the `.error.json` of a quarantined row. */
  async settle(row: IngestFile, report: () => Promise<object>): Promise<ObjectSettleResult> {
    if (!isTerminal(row.status)) return 'not_terminal';
    const loc = parseObjectStoredPath(row.storedPath);
    const store = loc && this.stores.get(loc.source);
    if (!loc || !store) return 'unknown';
    if (await this.objects.isSettled(row.id)) return 'moved';
    const loaded = row.status === 'processed' || row.status === 'duplicate';
    const settledAs = loaded ? await this.afterLoad(row, store, loc) : await this.quarantine(row, store, loc, report);
    await this.objects.markSettled(row.id, settledAs);
    this.metrics.moved.inc({ outcome: row.status });
    this.logger.log(`object ${row.originalName} (${row.id}) ${row.status}: ${settledAs}`);
    if (row.status === 'duplicate') await this.announcer.duplicate(row);
    return 'moved';
  }

  private async afterLoad(row: IngestFile, store: S3ObjectStore, loc: ObjectLocation): Promise<string> {
    switch (store.source.afterLoad) {
      case 'keep':
        return 'kept';
      case 'delete':
        await this.deleteIfSameVersion(store, loc);
        return 'deleted';
      case 'move':
        return this.move(row, store, loc, `${store.source.moveTo ?? ''}${loc.key}`);
    }
  }

  private async quarantine(row: IngestFile, store: S3ObjectStore, loc: ObjectLocation, report: () => Promise<object>): Promise<string> {
    const body = JSON.stringify(await report(), null, 2);
    const prefix = store.source.quarantineTo;
    if (!prefix) {
      await store.put(`${loc.key}${ERROR_REPORT_SUFFIX}`, body, 'application/json');
      return `${loc.key}${ERROR_REPORT_SUFFIX}`;
    }
    const target = `${prefix}${loc.key}`;
    await store.put(`${target}${ERROR_REPORT_SUFFIX}`, body, 'application/json');
    return this.move(row, store, loc, target);
  }

  /** Copy (this version only), point the ledger at the copy, then delete the original. */
  private async move(row: IngestFile, store: S3ObjectStore, loc: ObjectLocation, target: string): Promise<string> {
    try {
      await store.copy(loc.key, loc.etag, target);
    } catch (e) {
      // Gone (or overwritten) since: an earlier attempt copied and deleted it, or someone else removed it.
      if (!isNoSuchKey(e) && !isObjectChanged(e)) throw e;
      this.logger.warn(`object ${row.originalName} (${row.id}) was not at ${loc.key} to move; recorded as moved to ${target}`);
    }
    await this.ledger.setStoredPath(row.id, objectStoredPath({ ...loc, key: target }));
    await this.deleteIfSameVersion(store, loc);
    return target;
  }

  /** Deletes the original only while it still holds the claimed version (a newer upload under the key is new work). */
  private async deleteIfSameVersion(store: S3ObjectStore, loc: ObjectLocation): Promise<void> {
    if ((await store.etagOf(loc.key)) === loc.etag) await store.delete(loc.key);
  }
}
