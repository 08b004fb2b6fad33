/** What the maintenance job needs of the parts it runs; each part lives with its data (db, loading). */
import type { PartitionChange, PartitionedTable } from '@sluice/db';
import type { Sweep, SweepResult } from '@sluice/loading';

export type { PartitionChange, Sweep, SweepResult };

/** An abstract class, not an interface, so that it is also the Nest token of the partitions an app uses. */
export abstract class PartitionWork {
  /** Partitions from the current interval through the next ones, for every partitioned table. */
  abstract ensureAhead(now: Date, opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Rows of the default partitions moved into partitions of their own. */
  abstract rehomeDefault(opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Whole partitions entirely before `horizon`, detached and dropped (never a DELETE). */
  abstract dropBefore(table: PartitionedTable, horizon: Date, opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Rows with a time in each table's default partition. */
  abstract defaultRows(): Promise<Record<PartitionedTable, number>>;
}

/** The sweeps of files and rows that expire by age; a missing one is not run. */
export interface Sweeps {
  processedFiles?: Sweep;
  quarantinedFiles?: Sweep;
  payloadBodies?: Sweep;
  ledgerRows?: Sweep;
}

export interface AggregateExpiry {
  bucket: 'hour' | 'day';
  horizon: string;
  rows: number;
}

export interface MaintenanceReport {
  trigger: 'schedule' | 'cli';
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  /** Set when another replica held the job's lock: nothing was done. */
  skipped?: string;
  partitions: PartitionChange[];
  aggregates: AggregateExpiry[];
  sweeps: Partial<Record<keyof Sweeps, SweepResult & { horizon: string }>>;
  /** Rows waiting in default partitions after the run, by table. */
  defaultRows: Partial<Record<PartitionedTable, number>>;
  bytesReclaimed: number;
  /** Parts that failed (the others still ran), by name. */
  errors: Record<string, string>;
}
