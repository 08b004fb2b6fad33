import { Injectable } from '@nestjs/common';
import { TERMINAL_STATUSES } from '@sluice/contracts';
import { IngestError, IngestFile } from '@sluice/db';
import { DataSource, In, Like } from 'typeorm';

/** Read-only ledger queries only the watcher needs (LedgerRepository holds the state changes). */
@Injectable()
export class LedgerQueries {
  constructor(private readonly ds: DataSource) {}

  /** The first rejected rows of a file, in line order. */
  firstRowErrors(fileId: string, limit = 20): Promise<IngestError[]> {
    return this.ds.getRepository(IngestError).find({ where: { fileId }, order: { line: 'ASC', id: 'ASC' }, take: limit });
  }

  /** Terminal rows still pointing into processing/: a move that is pending or was interrupted. */
  terminalInProcessing(limit = 500): Promise<IngestFile[]> {
    return this.ds.getRepository(IngestFile).find({ where: { status: In([...TERMINAL_STATUSES]), storedPath: Like('processing/%') }, order: { updatedAt: 'ASC' }, take: limit });
  }

  /** Whether a zip archive still has members waiting or loading: they read the archive where it is. */
  async hasPendingMembers(archiveId: string): Promise<boolean> {
    const rows: unknown[] = await this.ds.query(`SELECT 1 FROM ingest_files WHERE archive_id = $1 AND status IN ('queued','processing') LIMIT 1`, [archiveId]);
    return rows.length > 0;
  }

  /** Rows waiting for a processor whose file should be in processing/. */
  queuedInProcessing(limit = 500): Promise<IngestFile[]> {
    return this.ds.getRepository(IngestFile).find({ where: { status: 'queued', storedPath: Like('processing/%') }, order: { updatedAt: 'ASC' }, take: limit });
  }
}
