import { Injectable, Logger } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import type { RowsByTable } from '@sluice/contracts';
import { addIntervals, intervalStart, PARTITIONED_TABLE_NAMES, Partitions, type PartitionChange, type PartitionedTable } from '@sluice/db';
import { DataSource } from 'typeorm';

/**
 * After a load commits: rows of a time no partition held went to their table's DEFAULT partition (so none was
 * refused or lost); the partitions of their intervals are made and the rows moved there. Runs outside the
 * load's transaction, so it never holds a lock a load in flight waits for while waiting for one of its locks,
 * and waits at most PARTITION_LOCK_TIMEOUT for each: when another load holds the table it gives up, tries again
 * by itself a few seconds later, and the next load or the maintenance job's rehoming finishes the work too. Nothing on the COPY path:
 * when the default partitions hold no rows with a time (the rule) it costs one look at an empty table per
 * partitioned table the load wrote to. Rows far ahead of now (past the partitions the maintenance job makes
 * ahead, a clock error say) are left in the default partition, counted in /metrics, for the job to move: a load
 * never makes partitions years ahead.
 */
/** As far ahead as loads make partitions: the current interval and the two after it, as the maintenance job. */
const AHEAD_INTERVALS = 3;
/**
 * A pass that gave up (a load held the table) is tried again this much later, up to RETRIES times in a row: the
 * last file of a backfill has no next load to finish its work, and its rows should not wait for the hourly job.
 */
const RETRY_AFTER_MS = 5_000;
const RETRIES = 12;
/**
 * How long a load waits for the locks that make its partitions before its first COPY; past it, its rows take the
 * default partition (another load is writing there) and afterLoad moves them.
 */
const BEFORE_COPY_LOCK_TIMEOUT = '500ms';
/** Most intervals made before one COPY (the first rows of a file span a few at most). */
const BEFORE_COPY_MAX_INTERVALS = 31;

@Injectable()
export class PartitionCoverage {
  private readonly logger = new Logger(PartitionCoverage.name);
  readonly partitions: Partitions;
  /** Tables a pass gave up on, for the pending retry. */
  private readonly pending = new Set<PartitionedTable>();
  private retry?: NodeJS.Timeout;
  private failures = 0;
  /** `table start` of intervals known to have a partition: a load into them makes none and asks nothing. */
  private readonly covered = new Set<string>();

  constructor(ds: DataSource, config: CommonConfig) {
    this.partitions = new Partitions(ds, config.PARTITION_INTERVAL);
  }

  /**
   * Before a load's first COPY into `table`, with the time range of its first rows (µs since the epoch, inclusive):
   * makes their partitions, up to the current interval and the two after it, in a transaction of its own, so the
   * rows go straight into their partition instead of into the default one and then a move (written twice).
   * Waits at most BEFORE_COPY_LOCK_TIMEOUT and never throws: when it cannot, the rows take the default partition
   * as before and afterLoad moves them. Call it before the load's transaction writes to `table` (its own locks
   * would stall the partition's creation).
   */
  async beforeCopy(table: PartitionedTable, fromMicros: number, toMicros: number): Promise<void> {
    const interval = this.partitions.interval;
    const ahead = addIntervals(intervalStart(new Date(), interval), interval, AHEAD_INTERVALS);
    const starts: Date[] = [];
    for (let s = intervalStart(new Date(fromMicros / 1000), interval); s.getTime() <= toMicros / 1000 && s < ahead; s = addIntervals(s, interval, 1)) {
      if (starts.length >= BEFORE_COPY_MAX_INTERVALS) break;
      starts.push(s);
    }
    const missing = starts.filter((s) => !this.covered.has(`${table} ${s.getTime()}`));
    if (!missing.length) return;
    try {
      const to = addIntervals(missing[missing.length - 1], interval, 1);
      const changes = await this.partitions.ensure(table, missing[0], to, { lockTimeout: BEFORE_COPY_LOCK_TIMEOUT });
      for (const s of missing) this.covered.add(`${table} ${s.getTime()}`);
      if (changes.length) this.logger.log({ changes: changes.map((c) => ({ action: c.action, name: c.name, rows: c.rows })) }, 'partitions made before a load');
    } catch (e) {
      this.logger.debug({ table, err: (e as Error).message }, 'partitions not made before a load; its rows take the default partition and are moved after it');
    }
  }

  /** For the partitioned tables the load(s) wrote to: the partitions their default partitions' rows belong to. */
  async afterLoad(written: RowsByTable | readonly RowsByTable[]): Promise<PartitionChange[]> {
    const all: readonly RowsByTable[] = Array.isArray(written) ? written : [written as RowsByTable];
    const tables = PARTITIONED_TABLE_NAMES.filter((t) => all.some((w) => (w[t] ?? 0) > 0));
    if (!tables.length) return [];
    try {
      const ahead = addIntervals(intervalStart(new Date(), this.partitions.interval), this.partitions.interval, AHEAD_INTERVALS);
      const changes = await this.partitions.rehomeDefault({ tables, before: ahead });
      this.failures = 0;
      if (changes.length) this.logger.log({ changes: changes.map((c) => ({ action: c.action, name: c.name, rows: c.rows })) }, 'partitions made for loaded rows');
      return changes;
    } catch (e) {
      this.logger.warn({ tables, err: (e as Error).message }, 'partitions for loaded rows not made now; tried again shortly, and by the next load or the maintenance job');
      this.retryLater(tables);
      return [];
    }
  }

  /** One pending retry at a time, for every table a pass gave up on; it never keeps the process alive. */
  private retryLater(tables: readonly PartitionedTable[]): void {
    for (const t of tables) this.pending.add(t);
    if (this.retry || this.failures >= RETRIES) return;
    this.failures++;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      const again = Object.fromEntries([...this.pending].map((t) => [t, 1]));
      this.pending.clear();
      void this.afterLoad(again);
    }, RETRY_AFTER_MS);
    this.retry.unref();
  }
}
