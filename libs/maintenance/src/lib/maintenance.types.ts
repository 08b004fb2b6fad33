/** What the maintenance job needs of the parts it runs; each part lives with its data (db, storage, loading). */

/** One partition made, moved into or dropped. */
export interface PartitionChange {
  action: 'create' | 'drop' | 'move' | 'skip';
  table: string;
  name: string;
  from: Date | null;
  to: Date | null;
  bytes?: number;
  rows?: number;
  /** Why a partition was skipped (its lock was held by a load: tried again next run). */
  reason?: string;
}

/** An abstract class, not an interface, so that it is also the Nest token of the partitions an app uses. */
export abstract class PartitionWork {
  /** Partitions from the current interval through the next ones, for every partitioned table. */
  abstract ensureAhead(now: Date, opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Rows of the default partitions moved into partitions of their own. */
  abstract rehomeDefault(opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Whole partitions entirely before `horizon`, detached and dropped (never a DELETE). */
  abstract dropBefore(table: string, horizon: Date, opts: { dryRun: boolean }): Promise<PartitionChange[]>;
  /** Rows with a time in each table's default partition. */
  abstract defaultRows(): Promise<Record<string, number>>;
}

/** What a sweep removed (or, dry, would remove). */
export interface SweepResult {
  items: number;
  bytes: number;
  /** A few names, for the report. */
  examples: string[];
}

export type Sweep = (horizon: Date, opts: { dryRun: boolean }) => Promise<SweepResult>;

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
  defaultRows: Record<string, number>;
  bytesReclaimed: number;
  /** Parts that failed (the others still ran), by name. */
  errors: Record<string, string>;
}
