import { IsIn, IsOptional } from 'class-validator';
import { parseByteSize, parseDuration } from './parsers';
import { IsByteSize, IsCron, IsDuration } from './validators';

export type PartitionInterval = 'day' | 'week' | 'month';

/** Retention periods in milliseconds; undefined keeps everything. */
export interface RetentionSettings {
  rawMs?: number;
  hourlyAggregateMs?: number;
  dailyAggregateMs?: number;
  logMs?: number;
  processedMs?: number;
  quarantineMs?: number;
  payloadMs?: number;
  ledgerMs?: number;
}

/**
 * How long data lives and where it must not grow past: the time partitions, the retention periods, when the
 * maintenance job runs, and the free space the drop folder keeps. Every service reads them (CommonConfig
 * extends this class), so each is declared, validated and documented once.
 */
export class RetentionConfig {
  /**
   * Time partitions of raw_sensor_data, detection_events and log_lines: one per `day`, `week` (from Monday) or
   * `month`, in UTC. Changing it changes only the partitions made from then on.
   */
  @IsIn(['day', 'week', 'month'])
  PARTITION_INTERVAL: PartitionInterval = 'month';

  /**
   * How long data is kept, by age of its time (`90d`, `36h`, `12w`); unset keeps everything. Raw readings and
   * log lines expire by whole partitions (dropped, never DELETEd); aggregates, stored bodies, drop-folder
   * files and ledger rows by their own horizon, so aggregates can outlive the readings they summarize.
   */
  @IsOptional()
  @IsDuration()
  RAW_RETENTION?: string;

  @IsOptional()
  @IsDuration()
  HOURLY_AGGREGATE_RETENTION?: string;

  @IsOptional()
  @IsDuration()
  DAILY_AGGREGATE_RETENTION?: string;

  @IsOptional()
  @IsDuration()
  LOG_RETENTION?: string;

  /** Files in processed/ and quarantine/ (with their .error.json), by the time they were filed there. */
  @IsOptional()
  @IsDuration()
  PROCESSED_RETENTION?: string;

  @IsOptional()
  @IsDuration()
  QUARANTINE_RETENTION?: string;

  /** Stored REST bodies of finished payloads (ingest_payloads), by the time their load finished. */
  @IsOptional()
  @IsDuration()
  PAYLOAD_RETENTION?: string;

  /** Ledger rows (ingest_files) of finished files, with their row errors; unset keeps them (duplicates are found by them). */
  @IsOptional()
  @IsDuration()
  LEDGER_RETENTION?: string;

  /** When the watcher runs the partition and retention job (cron, UTC; one replica at a time). */
  @IsCron()
  MAINTENANCE_CRON = '0 * * * *';

  /**
   * The least free space the drop folder's file system keeps: below it the watcher claims no new file and the
   * ingest-api answers 503 (Retry-After) to bodies it would write there, until space is back. 0: no check.
   */
  @IsByteSize()
  MIN_FREE_DISK: string | number = '1GiB';

  get retention(): RetentionSettings {
    return {
      rawMs: parseDuration(this.RAW_RETENTION),
      hourlyAggregateMs: parseDuration(this.HOURLY_AGGREGATE_RETENTION),
      dailyAggregateMs: parseDuration(this.DAILY_AGGREGATE_RETENTION),
      logMs: parseDuration(this.LOG_RETENTION),
      processedMs: parseDuration(this.PROCESSED_RETENTION),
      quarantineMs: parseDuration(this.QUARANTINE_RETENTION),
      payloadMs: parseDuration(this.PAYLOAD_RETENTION),
      ledgerMs: parseDuration(this.LEDGER_RETENTION),
    };
  }

  get minFreeDiskBytes(): number {
    return parseByteSize(this.MIN_FREE_DISK);
  }
}
