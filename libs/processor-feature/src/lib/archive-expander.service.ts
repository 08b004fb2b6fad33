import { Injectable, Logger } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import type { RejectReason } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { isCompressedContentError } from '@sluice/formats';
import { LedgerAnnouncer, LedgerRepository, refusedOutcome, type FileOutcome, type NewLedgerEntry } from '@sluice/loading';
import { DropAreas, isObjectChanged, isStoredInObjectStore, memberStoredPath, StoredFileReaders, ZipArchive } from '@sluice/storage';
import { createHash, randomUUID } from 'node:crypto';
import { objectChangedReason } from './failure.util';
import { ReadRanges } from './read-ranges.util';
import type { PoolClient } from 'pg';

/** FileProcessorService.commitOutcome: the outcome (or the work that yields it) and the ledger update, in one transaction holding the row. */
export type CommitOutcome = (fileId: string, outcomeOf: (client: PoolClient) => Promise<FileOutcome>) => Promise<FileOutcome | null>;

/**
 * Unpacks a zip archive into ledger rows: each file member is read once (inflated as a stream, guarded by
 * MAX_DECOMPRESSED_BYTES and MAX_COMPRESSION_RATIO) to take the SHA-256 of its content, then every member is
 * registered in the archive's own transaction with its outcome (`processed`, its members counted): either
 * the archive is settled with all its members, or with none. The unique (archive_id, member_index) makes a
 * second registration (a replay) add nothing. Members are announced after the commit (LedgerAnnouncer); a
 * crash before that, or a failed publish, leaves them `queued`, and the watcher publishes rows left queued
 * again (REQUEUE_AFTER_MS). Each member is then loaded as a file of its own, read from the archive (see
 * FileProcessorService.source).
 */
@Injectable()
export class ArchiveExpander {
  private readonly logger = new Logger(ArchiveExpander.name);

  constructor(
    private readonly config: ProcessorConfig,
    private readonly ledger: LedgerRepository,
    private readonly readers: StoredFileReaders,
    private readonly storage: DropAreas,
    private readonly announcer: LedgerAnnouncer,
  ) {}

  /**
   * The archive of a ledger row, read through ranged reads of its stored bytes (size_bytes of a zip is its
   * own size); with `ranges`, every range read is recorded for verification.
   */
  open(archive: IngestFile, ranges?: ReadRanges): Promise<ZipArchive> {
    const openRange = (range: { start: number; end: number }) => {
      const stream = this.readers.open(archive.storedPath, range);
      return ranges ? ranges.tap(range, stream) : stream;
    };
    return ZipArchive.open(openRange, Number(archive.sizeBytes), archive.originalName, this.config.decompressionLimits);
  }

  async expand(file: IngestFile, working: () => void, commitOutcome: CommitOutcome): Promise<FileOutcome | null> {
    let members: NewLedgerEntry[];
    try {
      const before = await this.statOf(file);
      // An object's ranges are proven bytes of the claimed version afterwards (a server may serve a newer version's bytes within one GET).
      const ranges = isStoredInObjectStore(file.storedPath) ? new ReadRanges() : undefined;
      const overwritten = async () => ranges !== undefined && !(await ranges.verify(this.readers.open(file.storedPath), { sha256: file.sha256.trim(), size: Number(file.sizeBytes) }));
      try {
        members = await this.hashMembers(file, working, ranges);
      } catch (e) {
        // Mixed bytes of two versions may not even be a zip: the archive's true reason is that it changed.
        if (isCompressedContentError(e) && (await overwritten())) return this.refuseOverwritten(file, commitOutcome);
        throw e;
      }
      const after = await this.statOf(file);
      if (before !== after || (after !== null && !after.startsWith(`${file.sizeBytes}:`))) return commitOutcome(file.id, async () => refusedOutcome('zip_archive', changedAfterClaim(file)));
      if (await overwritten()) return this.refuseOverwritten(file, commitOutcome);
    } catch (e) {
      if (isCompressedContentError(e)) return commitOutcome(file.id, async () => refusedOutcome('zip_archive', e.reason));
      if (isObjectChanged(e)) return commitOutcome(file.id, async () => refusedOutcome('zip_archive', objectChangedReason(file.originalName)));
      throw e;
    }
    let registered: Awaited<ReturnType<LedgerRepository['registerMany']>> = [];
    const outcome = await commitOutcome(file.id, async (client) => {
      registered = await this.ledger.registerMany(client, members);
      return { status: 'processed', kind: 'zip_archive', rowsTotal: members.length, rowsLoaded: members.length, rowsRejected: 0, rowsWritten: {}, error: null };
    });
    if (!outcome) return null;
    // A duplicate member is announced as a duplicate upload is (a member has nothing to move).
    await this.announcer.announce(registered.map((r, i) => ({ file: members[i], status: r.status, duplicateOf: r.duplicateOf })));
    this.logger.log({ fileId: file.id, members: members.length, queued: registered.filter((r) => r.status === 'queued').length }, 'archive unpacked');
    return outcome;
  }

  private refuseOverwritten(file: IngestFile, commitOutcome: CommitOutcome): Promise<FileOutcome | null> {
    this.logger.warn({ fileId: file.id, storedPath: file.storedPath }, 'archive object overwritten while it was read');
    return commitOutcome(file.id, async () => refusedOutcome('zip_archive', overwrittenWhileRead(file)));
  }

  /** One pass over the archive: every file member read to its end and hashed. */
  private async hashMembers(file: IngestFile, working: () => void, ranges?: ReadRanges): Promise<NewLedgerEntry[]> {
    const zip = await this.open(file, ranges);
    const members: NewLedgerEntry[] = [];
    try {
      for await (const m of zip.members()) {
        working();
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of await zip.read(m)) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        members.push({
          id: randomUUID(),
          source: file.source,
          originalName: `${file.originalName}/${m.name}`,
          storedPath: memberStoredPath(file.id, m.index),
          sha256: hash.digest('hex'),
          sizeBytes: size,
          archiveId: file.id,
          memberIndex: m.index,
        });
      }
    } finally {
      zip.close();
    }
    return members;
  }

  /** `size:mtime` of an archive in the drop folder (a writer still at it changes it); null for an object (verified by ReadRanges). */
  private async statOf(file: IngestFile): Promise<string | null> {
    if (!file.storedPath.startsWith('processing/')) return null;
    const st = await this.storage.stat(file.storedPath);
    return `${st.size}:${st.mtimeMs}`;
  }
}

function changedAfterClaim(file: IngestFile): RejectReason {
  return {
    rule: 'changed_after_claim',
    message: `${file.originalName} changed after it was claimed (${file.sizeBytes} bytes at the claim): a writer was still writing to it, so none of its members were registered; replay it once it is complete`,
  };
}

function overwrittenWhileRead(file: IngestFile): RejectReason {
  return {
    rule: 'object_changed',
    message: `${file.originalName} was overwritten while it was read (the bytes read are not the ${file.sizeBytes} claimed): none of its members were registered; the version now under the key is loaded as a file of its own`,
  };
}
