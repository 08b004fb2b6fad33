import type { FileLifecycleEvent } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';

/** The lifecycle event that announces a ledger row's current state (the row is the truth; this is news). */
export function lifecycleEventOf(row: IngestFile, extra: { durationMs?: number } = {}): FileLifecycleEvent {
  return {
    fileId: row.id,
    status: row.status,
    originalName: row.originalName,
    ...(row.kind ? { kind: row.kind } : {}),
    rowsLoaded: Number(row.rowsLoaded),
    rowsRejected: Number(row.rowsRejected),
    ...(extra.durationMs !== undefined ? { durationMs: extra.durationMs } : {}),
    ...(row.duplicateOf ? { duplicateOf: row.duplicateOf } : {}),
    ...(row.error ? { error: row.error } : {}),
    at: new Date().toISOString(),
  };
}
