import type { MetricRanges } from '@sluice/config';
import type { FileKind, RejectReason, RowsByTable } from '@sluice/contracts';
import type { PoolClient } from 'pg';
import type { PartitionedTable } from '@sluice/db';

/** Everything a loader needs to know besides the file: policies and limits from the processor's config. */
export interface LoadOptions {
  invalidRows: 'skip' | 'reject';
  maxInvalidRatio: number;
  /** Bad rows it takes before the ratio quarantines a file (a file of nothing but bad rows always is); 0 when unset. */
  minInvalidRows?: number;
  ranges: MetricRanges;
  naiveTimeZone: string;
  /** Called every ~10k records; the caller heartbeats JetStream. */
  onProgress?: () => void;
  /** Hour buckets kept in memory before a mid-file merge (sensor CSV). */
  aggFlushBuckets?: number;
  /** Largest single-document JSON file (a safety limit: documents stream). */
  maxJsonDocumentBytes?: number;
  /** Deepest JSON nesting accepted. */
  maxJsonDepth?: number;
  /** Longest NDJSON line, item of a JSON document, and CSV header line. */
  maxLineBytes?: number;
  /** Most columns of a CSV header. */
  maxCsvColumns?: number;
  /**
   * Retention horizons (µs since the epoch: now minus RAW_RETENTION, LOG_RETENTION), unset when data is kept
   * forever: a reading or detection event older than `rawMicros`, a log line older than `logMicros`, is a row
   * error `late_beyond_retention` (its partition is gone or about to go).
   */
  notBefore?: { rawMicros?: number; logMicros?: number };
  /**
   * Called before a load's first COPY into a partitioned table, with the time range of its first rows (µs, inclusive),
   * before the load's transaction has written there: the caller makes their partitions (PartitionCoverage.beforeCopy).
   */
  beforeCopy?: (table: PartitionedTable, fromMicros: number, toMicros: number) => Promise<void>;
  /** Told the milliseconds a load spent in a stage it can tell apart from parsing (several times a load, summed by the caller). */
  onStage?: (stage: LoadStage, ms: number) => void;
}

/**
 * What a loader times apart from reading, parsing and validating: waiting for PostgreSQL to take COPY data (the
 * COPY runs while the file is parsed, so only the waits count), merging aggregates, writing row errors.
 */
export type LoadStage = 'copy' | 'aggregates' | 'row_errors';

/** Runs `work` and tells `onStage` how long it took. */
export async function timeStage<T>(onStage: LoadOptions['onStage'], stage: LoadStage, work: () => Promise<T>): Promise<T> {
  if (!onStage) return work();
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    onStage(stage, performance.now() - t0);
  }
}

export interface LoadResult {
  /** Records read: CSV lines, JSON items, NDJSON lines (blank lines not counted). */
  rowsTotal: number;
  rowsLoaded: number;
  rowsRejected: number;
  /**
   * Rows written to the data tables, per table: new keys, plus keys whose data this file changed (readings
   * are the raw_sensor_data rows). Empty when the file is refused.
   */
  rowsWritten: RowsByTable;
  rejection: RejectReason | null;
}

/**
 * Loads one kind (or family of kinds) of file inside the caller's transaction, with the file's ledger
 * row locked. Must be idempotent: loading the same file again changes no table. Writes its row errors to
 * ingest_errors (replacing an earlier attempt's) and, when it refuses the file, leaves no data behind.
 * A new kind is one loader listed in KIND_LOADERS (and a migration for its table).
 */
export interface KindLoader {
  readonly kinds: readonly FileKind[];
  load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult>;
  /**
   * Runs the per-line code of a load over generated input in memory, touching no database, so that a process's
   * first file does not run it cold; returns the lines it went through.
   */
  warmUp?(opts: LoadOptions): Promise<number>;
}

/** The injection token of every kind loader (the instances of KIND_LOADERS), which LoaderRegistry receives. */
export const LOADERS = Symbol('LOADERS');
