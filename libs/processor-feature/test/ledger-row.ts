import type { IngestFile } from '@sluice/db';
import { randomUUID } from 'node:crypto';

/** A ledger row as startAttempt returns it (`processing`, its attempt counted), with what a spec sets over it. */
export function ledgerRow(attempts: number, over: Partial<IngestFile> = {}): IngestFile {
  const now = new Date();
  return Object.assign(new Object() as IngestFile, {
    id: randomUUID(),
    source: 'dropzone',
    originalName: 'readings.csv',
    storedPath: 'processing/readings.csv',
    sha256: '0'.repeat(64),
    sizeBytes: '0',
    kind: null,
    status: 'processing',
    duplicateOf: null,
    rowsTotal: '0',
    rowsLoaded: '0',
    rowsRejected: '0',
    rowsWritten: '0',
    rowsWrittenByTable: {},
    compression: null,
    archiveId: null,
    memberIndex: null,
    error: null,
    tagCounts: null,
    attempts,
    replays: 0,
    createdAt: now,
    queuedAt: now,
    updatedAt: now,
    startedAt: now,
    finishedAt: null,
    expiredAt: null,
    contractName: null,
    contractHash: null,
    ...over,
  } satisfies IngestFile);
}
