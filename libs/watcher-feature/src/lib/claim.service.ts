import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { isTerminal } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerRepository } from '@sluice/loading';
import { DropFolder, isStorageException } from '@sluice/storage';
import { FileLocks, Semaphore } from './concurrency.util';
import { LifecyclePublisher } from './lifecycle.publisher';
import { OutcomeMover } from './outcome-mover.service';
import { WatcherMetrics } from './watcher.metrics';

/** Files hashed and registered at the same time (hashing a large file takes a while). */
const CLAIM_CONCURRENCY = 4;

/**
 * incoming/ → processing/ → ledger → JetStream. Each step is safe to repeat: a crash after the rename
 * leaves a `<fileId>__name` in processing/ that reconciliation registers; a crash after register leaves a
 * queued row that reconciliation publishes again.
 */
@Injectable()
export class ClaimService {
  private readonly logger = new Logger(ClaimService.name);
  private readonly limit = new Semaphore(CLAIM_CONCURRENCY);

  constructor(
    private readonly drop: DropFolder,
    private readonly ledger: LedgerRepository,
    private readonly publisher: LifecyclePublisher,
    private readonly mover: OutcomeMover,
    private readonly locks: FileLocks,
    private readonly metrics: WatcherMetrics,
  ) {}

  /** Claims a ready file from incoming/ (path relative to incoming/). */
  claimIncoming(relativePath: string): Promise<void> {
    const fileId = randomUUID();
    return this.limit.run(() =>
      this.locks.run(fileId, async () => {
        let claimed;
        try {
          claimed = await this.drop.claim(relativePath, fileId);
        } catch (e) {
          if (isStorageException(e, 'not_regular_file')) return this.quarantineIrregular(`incoming/${relativePath}`, 'turned into a non-regular file before it was claimed');
          throw e;
        }
        if (!claimed) return; // another watcher renamed it first
        this.metrics.claimed.inc();
        this.logger.log(`claimed incoming/${relativePath} as ${fileId}`);
        await this.registerStored(fileId, relativePath, claimed.storedPath);
      }),
    );
  }

  /** Registers a file already in processing/ and publishes it. Caller holds the file's lock. */
  async registerStored(fileId: string, originalName: string, storedPath: string): Promise<void> {
    let digest;
    try {
      digest = await this.drop.sha256AndSize(storedPath);
    } catch (e) {
      if (isStorageException(e, 'not_regular_file')) return this.quarantineIrregular(storedPath, 'is not a regular file (replaced while being claimed)');
      throw e;
    }
    const result = await this.ledger.register({ id: fileId, source: 'dropzone', originalName, storedPath, sha256: digest.sha256, sizeBytes: digest.size });
    switch (result.status) {
      case 'queued':
        await this.publisher.queued(fileId);
        this.metrics.registered.inc();
        this.logger.log(`queued ${fileId} (${originalName}, ${digest.size} bytes, sha256 ${digest.sha256.slice(0, 12)}…)`);
        return;
      case 'duplicate':
        this.metrics.duplicates.inc();
        this.logger.log(`${fileId} (${originalName}) duplicates ${result.duplicateOf || 'an earlier file'}`);
        await this.mover.settleRow(result.row);
        return;
      case 'existing':
        await this.resume(result.row);
        return;
    }
  }

  /** A row registered before (by us before a crash, or by another watcher): carry on from its state. */
  private async resume(row: IngestFile): Promise<void> {
    if (row.status === 'queued') await this.publisher.queued(row.id);
    else if (isTerminal(row.status)) await this.mover.settleRow(row);
  }

  /** Moves a symlink, FIFO, socket or device out of incoming/ or processing/ into quarantine/ as-is. */
  async quarantineIrregular(rootRelativePath: string, why: string): Promise<void> {
    const q = await this.drop.quarantineIrregular(rootRelativePath, `${rootRelativePath} ${why}; it was never read`);
    if (q) {
      this.metrics.irregular.inc({ type: q.type });
      this.logger.warn(`${rootRelativePath} is a ${q.type}: moved as-is to ${q.storedPath}`);
    }
  }
}
