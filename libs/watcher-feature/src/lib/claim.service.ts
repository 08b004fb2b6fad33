import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { isTerminal } from '@sluice/contracts';
import { LedgerAnnouncer } from '@sluice/loading';
import { DropClaims, isStorageException } from '@sluice/storage';
import { FileLocks, Semaphore } from './concurrency.util';
import { OutcomeMover } from './outcome-mover.service';
import { timeSince, WatcherMetrics } from './watcher.metrics';

/** Files hashed and registered at the same time (hashing a large file takes a while). */
const CLAIM_CONCURRENCY = 4;

/**
 * incoming/ → processing/ → ledger → JetStream. Each step is safe to repeat: a crash after the rename
 * leaves a `<fileId>__name` in processing/ that reconciliation registers; a crash after register (or a
 * failed publish, see LedgerAnnouncer) leaves a queued row that reconciliation publishes again.
 */
@Injectable()
export class ClaimService {
  private readonly logger = new Logger(ClaimService.name);
  private readonly limit = new Semaphore(CLAIM_CONCURRENCY);
  /** Claimed files a process still held open for writing: file id → name in incoming/. Registered once closed (Reconciler). */
  private readonly held = new Map<string, string>();
  private writerScan?: Promise<Set<string>>;

  constructor(
    private readonly drop: DropClaims,
    private readonly announcer: LedgerAnnouncer,
    private readonly mover: OutcomeMover,
    private readonly locks: FileLocks,
    private readonly metrics: WatcherMetrics,
  ) {}

  /**
   * Claims a ready file from incoming/ (path relative to incoming/). `checkWriters`: the file was written in
   * place, so a writer may still hold it open; such a file is left unregistered in processing/ (the writer
   * keeps appending to it there, nothing is lost) until no process holds it open for writing.
   */
  claimIncoming(relativePath: string, checkWriters = true): Promise<void> {
    const fileId = randomUUID();
    return this.limit.run(() =>
      this.locks.run(fileId, async () => {
        let claimed;
        const claiming = performance.now();
        try {
          claimed = await this.drop.claim(relativePath, fileId);
        } catch (e) {
          if (isStorageException(e, 'not_regular_file')) return this.quarantineIrregular(`incoming/${relativePath}`, 'turned into a non-regular file before it was claimed');
          throw e;
        }
        if (!claimed) return; // another watcher renamed it first
        timeSince('claim', claiming);
        this.metrics.claimed.inc();
        this.logger.log(`claimed incoming/${relativePath} as ${fileId}`);
        if (checkWriters && (await this.openForWriting()).has(claimed.storedPath)) {
          this.held.set(fileId, relativePath);
          this.metrics.heldOpen.inc();
          this.logger.warn(`incoming/${relativePath} was still open for writing when claimed (stable for STABILITY_WINDOW_MS, yet not finished): ${claimed.storedPath} is registered once its writer closes it`);
          return;
        }
        await this.registerStored(fileId, relativePath, claimed.storedPath);
      }),
    );
  }

  /** Name in incoming/ of a claimed file that waits for its writer to close it; undefined for any other. */
  heldName(fileId: string): string | undefined {
    return this.held.get(fileId);
  }

  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Stored paths in processing/ some process on this host holds open for writing. Callers that ask while a
   * walk of /proc is already running wait for the next one: the running one may have read a process's
   * descriptors before their file was renamed into processing/.
   */
  openForWriting(): Promise<Set<string>> {
    this.writerScan ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.writerScan = undefined;
      return this.drop.openForWriting();
    });
    return this.writerScan;
  }

  /**
   * Registers a file already in processing/ and announces it. Caller holds the file's lock. A file with
   * other hard links is first replaced by a private copy, so the bytes the ledger hashes cannot change later.
   */
  async registerStored(fileId: string, originalName: string, storedPath: string): Promise<void> {
    this.held.delete(fileId);
    let digest;
    const hashing = performance.now();
    try {
      const links = await this.drop.ensurePrivate(storedPath);
      if (links > 1) {
        this.metrics.hardLinked.inc();
        this.logger.warn(`${originalName} had ${links} hard links: stored as a private copy (${storedPath}), so its other names cannot change what is loaded`);
      }
      digest = await this.drop.sha256AndSize(storedPath);
    } catch (e) {
      if (isStorageException(e, 'not_regular_file')) return this.quarantineIrregular(storedPath, 'is not a regular file (replaced while being claimed)');
      throw e;
    }
    timeSince('hash', hashing);
    // A duplicate is announced once moved (OutcomeMover); a row left queued is announced here.
    const registering = performance.now();
    const result = await this.announcer.register(
      { id: fileId, source: 'dropzone', originalName, storedPath, sha256: digest.sha256, sizeBytes: digest.size, compression: digest.compression },
      { announceDuplicate: false },
    );
    timeSince('register', registering);
    switch (result.status) {
      case 'queued':
        this.metrics.registered.inc();
        this.logger.log(`queued ${fileId} (${originalName}, ${digest.size} bytes, sha256 ${digest.sha256.slice(0, 12)}…)`);
        return;
      case 'duplicate':
        this.metrics.duplicates.inc();
        this.logger.log(`${fileId} (${originalName}) duplicates ${result.duplicateOf || 'an earlier file'}`);
        await this.mover.settleRow(result.row);
        return;
      case 'existing':
        // Registered before (by us before a crash, or by another watcher): carry on from its state.
        if (isTerminal(result.row.status)) await this.mover.settleRow(result.row);
        return;
    }
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
