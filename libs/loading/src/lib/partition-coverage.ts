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

@Injectable()
export class PartitionCoverage {
  private readonly logger = new Logger(PartitionCoverage.name);
  readonly partitions: Partitions;
  /** Tables a pass gave up on, for the pending retry. */
  private readonly pending = new Set<PartitionedTable>();
  private retry?: NodeJS.Timeout;
  private failures = 0;

  constructor(ds: DataSource, config: CommonConfig) {
    this.partitions = new Partitions(ds, config.PARTITION_INTERVAL);
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
