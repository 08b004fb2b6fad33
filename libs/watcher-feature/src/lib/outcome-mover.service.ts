import { Injectable, Logger } from '@nestjs/common';
import { isTerminal } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerAnnouncer, LedgerRepository } from '@sluice/loading';
import { OutcomeFiling, isArchiveMember, isStorageException, isStoredInObjectStore } from '@sluice/storage';
import { FileLocks } from './concurrency.util';
import { LedgerQueries } from './ledger-queries.repository';
import { S3OutcomeSettler } from './s3-outcome-settler.service';
import { timeSince, WatcherMetrics } from './watcher.metrics';

export type SettleResult = 'moved' | 'not_terminal' | 'not_in_processing' | 'missing' | 'unknown';

const ROW_ERRORS_IN_REPORT = 20;

/** Moves a file whose ledger row is terminal out of processing/, and points the ledger at its new place. */
@Injectable()
export class OutcomeMover {
  private readonly logger = new Logger(OutcomeMover.name);
  private readonly reportedMissing = new Set<string>();

  constructor(
    private readonly drop: OutcomeFiling,
    private readonly ledger: LedgerRepository,
    private readonly queries: LedgerQueries,
    private readonly announcer: LedgerAnnouncer,
    private readonly locks: FileLocks,
    private readonly metrics: WatcherMetrics,
    private readonly objects: S3OutcomeSettler,
  ) {}

  /** Re-reads the ledger row (the truth) under the file's lock and settles it. */
  settleById(fileId: string): Promise<SettleResult> {
    return this.locks.run(fileId, async () => {
      const row = await this.ledger.get(fileId);
      return row ? this.settleRow(row) : 'unknown';
    });
  }

  /**
   * Caller holds the file's lock and a fresh row. A zip archive stays where it is until its last member is
   * done (members read it there); that member's outcome settles it, and so does the next rescan.
   */
  async settleRow(row: IngestFile): Promise<SettleResult> {
    if (!isTerminal(row.status)) return 'not_terminal';
    if (isArchiveMember(row.storedPath)) {
      if (row.archiveId) await this.settleById(row.archiveId);
      return 'not_in_processing';
    }
    if (row.compression === 'zip' && (await this.queries.hasPendingMembers(row.id))) return 'not_terminal';
    if (isStoredInObjectStore(row.storedPath)) return this.objects.settle(row, () => this.errorReport(row));
    if (!row.storedPath.startsWith('processing/')) return 'not_in_processing';
    const target = row.status === 'processed' || row.status === 'duplicate' ? 'processed' : 'quarantine';
    const report = target === 'quarantine' ? await this.errorReport(row) : undefined;
    let storedPath: string;
    const filing = performance.now();
    try {
      storedPath = await this.drop.fileOutcome(row.storedPath, target, row.originalName, report, { sha256: row.sha256 });
    } catch (e) {
      if (isStorageException(e, 'missing')) {
        if (!this.reportedMissing.has(row.id)) {
          this.reportedMissing.add(row.id);
          this.logger.warn(`file ${row.id} (${row.status}) is gone from ${row.storedPath} and not found in ${target}/; ledger left as is`);
        }
        return 'missing';
      }
      if (isStorageException(e, 'not_regular_file')) {
        const q = await this.drop.quarantineIrregular(row.storedPath, `found a ${row.storedPath} that is not a regular file when moving file ${row.id}`);
        this.logger.error(`file ${row.id}: ${row.storedPath} is not a regular file; moved as-is to ${q?.storedPath ?? '(gone)'}`);
        if (q) await this.ledger.setStoredPath(row.id, q.storedPath);
        return 'moved';
      }
      throw e;
    }
    await this.ledger.setStoredPath(row.id, storedPath);
    timeSince('file', filing);
    this.metrics.moved.inc({ outcome: row.status });
    this.logger.log(`file ${row.id} ${row.status}: ${row.storedPath} → ${storedPath}`);
    if (row.status === 'duplicate') await this.announcer.duplicate({ ...row, storedPath });
    return 'moved';
  }

  /** Contents of `<name>.error.json`: the ledger's reason and the first rejected rows. */
  private async errorReport(row: IngestFile): Promise<object> {
    const rows = await this.queries.firstRowErrors(row.id, ROW_ERRORS_IN_REPORT);
    return {
      fileId: row.id,
      originalName: row.originalName,
      status: row.status,
      kind: row.kind,
      error: row.error ?? { rule: row.status, message: `file ${row.status} without a recorded reason` },
      rowsTotal: Number(row.rowsTotal),
      rowsRejected: Number(row.rowsRejected),
      rowErrors: rows.map((r) => ({ line: r.line, column: r.column, rule: r.rule, message: r.message, raw: r.raw })),
      finishedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
    };
  }
}
