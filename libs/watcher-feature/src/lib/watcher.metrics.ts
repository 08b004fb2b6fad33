import { Injectable } from '@nestjs/common';
import { Counter, Gauge, register } from 'prom-client';

/** Reuses a counter already in the default registry (a second app instance in one process, as in tests). */
function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames });
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return (register.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge<L>({ name, help, labelNames });
}

@Injectable()
export class WatcherMetrics {
  readonly claimed = counter('sluice_watcher_files_claimed_total', 'Files claimed from incoming/ (renamed into processing/)');
  readonly registered = counter('sluice_watcher_files_queued_total', 'Files registered in the ledger as queued and announced (a failed publish counts in sluice_publish_failures_total)');
  readonly duplicates = counter('sluice_watcher_duplicates_total', 'Claimed files whose content was already in the ledger');
  readonly moved = counter('sluice_watcher_files_moved_total', 'Files moved out of processing/, by ledger outcome', ['outcome'] as const);
  readonly irregular = counter('sluice_watcher_irregular_quarantined_total', 'Symlinks, FIFOs, sockets and devices moved to quarantine/', ['type'] as const);
  readonly requeued = counter('sluice_watcher_requeued_total', 'Stale queued/processing files published again');
  readonly heldOpen = counter('sluice_watcher_claimed_while_open_total', 'Files claimed while a process still held them open for writing (registered once closed)');
  readonly hardLinked = counter('sluice_watcher_hard_linked_total', 'Claimed files with other hard links, stored as a private copy');
  readonly unclaimable = counter('sluice_watcher_unclaimable_total', 'Entries of incoming/ that cannot be claimed, counted once each, by reason', ['reason'] as const);
  readonly s3SourceUp = gauge('sluice_s3_source_up', 'Whether the last listing of an object-store source succeeded (1) or failed (0)', ['source'] as const);
  readonly maintenanceRuns = counter('sluice_maintenance_runs_total', 'Scheduled partition and retention runs, by outcome (ok, failed: a part failed, skipped: another replica ran it)', ['outcome'] as const);
  readonly bytesReclaimed = counter('sluice_maintenance_bytes_reclaimed_total', 'Bytes freed by retention: partitions dropped, files and bodies removed');
  readonly lastMaintenance = gauge('sluice_maintenance_last_run_timestamp_seconds', 'When this replica last finished a scheduled maintenance run (Unix time)');
  readonly defaultPartitionRows = gauge('sluice_partition_default_rows', 'Rows with a time in a table\'s default partition (no range partition took them; the maintenance job moves them)', ['table'] as const);
  readonly orphans = counter('sluice_watcher_orphans_registered_total', 'Files found in processing/ without a ledger row and registered');
}

const stageSeconds = counter('sluice_watcher_stage_seconds_total', 'Seconds the watcher spent on files in each stage', ['stage'] as const);

/**
 * Adds the time since `since` (performance.now()) to a stage: claim (the rename into processing/), hash (the sha256
 * of the content), register (the ledger row and the queued message), file (the move out of processing/).
 */
export function timeSince(stage: 'claim' | 'hash' | 'register' | 'file', since: number): void {
  stageSeconds.inc({ stage }, (performance.now() - since) / 1000);
}
