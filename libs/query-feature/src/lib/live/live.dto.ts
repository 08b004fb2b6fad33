import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import type { PartitionInterval } from '@sluice/config';
import { DATA_TABLES, type DataTable, FILE_STATUSES, type FileStatus } from '@sluice/contracts';
import { STORAGE_TABLES, type StorageTable } from '@sluice/db';
import { IntegerParam } from '@sluice/http';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { RejectedRowDto, RejectReasonDto } from '../files/files.dto';

export const THROUGHPUT_WINDOW_S = 60;
export const SERIES_MINUTES = 10;
export const SERIES_STEP_S = 10;
export const FINISHED_SHOWN = 10;
export const IN_FLIGHT_SHOWN = 100;
export const FIRST_ROW_ERRORS = 3;

// Plain schema objects (`type: 'integer'`), not constructors: a raw `Number` here is printed as a function
// into /docs/swagger-ui-init.js and breaks the page.
const statusCounts = Object.fromEntries(FILE_STATUSES.map((s) => [s, { type: 'integer' as const, example: s === 'processed' ? 41 : 0 }]));
const TABLE_EXAMPLE: Record<DataTable, number> = { raw_sensor_data: 205000, log_lines: 120, measurements: 3, vehicles_status: 0, detection_events: 0 };
const tableCounts = Object.fromEntries(DATA_TABLES.map((t) => [t, { type: 'integer' as const, example: TABLE_EXAMPLE[t] }]));

export class FolderCountsDto {
  @ApiProperty({ enum: ['dropzone', 'ledger'], description: '`dropzone`: files counted in the drop folder (DROPZONE_DIR set); `ledger`: ledger rows by the first folder of stored_path.' })
  source!: 'dropzone' | 'ledger';

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { incoming: 0, processing: 1, processed: 40, quarantine: 2 } })
  counts!: Record<string, number>;

  @ApiProperty({ example: false, description: 'True when a folder held more files than were counted.' })
  truncated!: boolean;
}

export class ThroughputPointDto {
  @ApiProperty({ example: '2026-01-05T10:00:00.000000Z', format: 'date-time', description: 'Start of the bucket.' })
  t!: string;

  @ApiProperty({ example: 1250.5, description: 'Records loaded by the processed files that finished in this bucket, per second.' })
  rows_per_s!: number;
}

export class ThroughputDto {
  @ApiProperty({
    example: 1204.7,
    description: `Records (CSV lines, JSON items) loaded by the processed files that finished in the last ${THROUGHPUT_WINDOW_S} s, per second (a replay counts its records again).`,
  })
  rows_per_s!: number;

  @ApiProperty({ example: THROUGHPUT_WINDOW_S })
  window_s!: number;

  @ApiPropertyOptional({
    type: [ThroughputPointDto],
    description: `The last ${SERIES_MINUTES} minutes in ${SERIES_STEP_S} s buckets (a file's rows count when it finishes); left out with \`series=false\`.`,
  })
  series?: ThroughputPointDto[];
}

export class StatsQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    default: true,
    description: `\`false\`: without \`throughput.series\` (${(SERIES_MINUTES * 60) / SERIES_STEP_S} points), a reply a person reads in a terminal.`,
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: '$property must be true or false' })
  series?: boolean;
}

export class TableStorageDto {
  @ApiProperty({ enum: STORAGE_TABLES, example: 'raw_sensor_data' })
  table!: StorageTable;

  @ApiProperty({ example: 1_431_650_304, description: 'Bytes on disk: the table, its indexes and TOAST, over every partition (0 when the table does not exist).' })
  bytes!: number;

  @ApiProperty({ example: 13, description: 'Partitions of a time-partitioned table (the default one included); 0 for a table that is not partitioned.' })
  partitions!: number;

  @ApiProperty({ example: 20_480_000, description: "Rows as PostgreSQL's statistics estimate them (cheap; not a count)." })
  estimated_rows!: number;
}

export class RetentionSettingsDto {
  @ApiProperty({ type: String, nullable: true, example: '90d', description: 'RAW_RETENTION: raw readings (raw_sensor_data). null keeps everything.' })
  raw!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '400d', description: 'HOURLY_AGGREGATE_RETENTION.' })
  hourly_aggregates!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'DAILY_AGGREGATE_RETENTION.' })
  daily_aggregates!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '30d', description: 'LOG_RETENTION: log lines.' })
  logs!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '14d', description: 'PROCESSED_RETENTION: files in processed/.' })
  processed_files!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '30d', description: 'QUARANTINE_RETENTION: files in quarantine/.' })
  quarantined_files!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '7d', description: 'PAYLOAD_RETENTION: stored REST bodies (ingest_payloads).' })
  payloads!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'LEDGER_RETENTION: ledger rows of finished files.' })
  ledger!: string | null;
}

export class MaintenanceRunDto {
  @ApiProperty({ format: 'date-time', example: '2026-01-05T10:00:00.000000Z' })
  started_at!: string;

  @ApiProperty({ format: 'date-time', example: '2026-01-05T10:00:02.500000Z' })
  finished_at!: string;

  @ApiProperty({ example: false, description: 'A dry run only reported what it would drop.' })
  dry_run!: boolean;

  @ApiProperty({ enum: ['schedule', 'cli'], example: 'schedule' })
  trigger!: string;

  @ApiProperty({ example: 734_003_200, description: 'Bytes freed (for a dry run: that would be freed).' })
  bytes_reclaimed!: number;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'Why the run failed; null when it succeeded.' })
  error!: string | null;
}

export class MaintenanceDto {
  @ApiProperty({ example: '0 * * * *', description: 'MAINTENANCE_CRON (UTC).' })
  cron!: string;

  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: '2026-01-05T11:00:00Z', description: 'When the schedule next fires; null when MAINTENANCE_CRON cannot be read.' })
  next_run!: string | null;

  @ApiProperty({ type: MaintenanceRunDto, nullable: true, description: 'The latest finished run (scheduled or `sluice maintenance`); null before the first.' })
  last_run!: MaintenanceRunDto | null;
}

export class StorageDto {
  @ApiProperty({ type: [TableStorageDto], description: 'Every data, ledger and aggregate table, from the catalog (sizes cost no scan).' })
  tables!: TableStorageDto[];

  @ApiProperty({ example: 1_507_000_000, description: 'Bytes of every table listed together.' })
  total_bytes!: number;

  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: '2025-10-07T00:00:00.000000Z', description: 'The oldest reading kept in raw_sensor_data; null when there is none.' })
  oldest_reading!: string | null;

  @ApiProperty({ enum: ['day', 'week', 'month'], example: 'month', description: 'PARTITION_INTERVAL: the span of each time partition.' })
  partition_interval!: PartitionInterval;

  @ApiProperty({ type: RetentionSettingsDto, description: 'How long each kind of data is kept (the variable as set, e.g. `90d`); null keeps it.' })
  retention!: RetentionSettingsDto;

  @ApiProperty({ type: MaintenanceDto })
  maintenance!: MaintenanceDto;
}

export class StatsDto {
  @ApiProperty({ type: 'object', properties: statusCounts, description: 'Ledger rows per status (every status present, 0 when none).' })
  files_by_status!: Record<FileStatus, number>;

  @ApiProperty({ example: 43 })
  files_total!: number;

  @ApiProperty({ type: FolderCountsDto })
  folders!: FolderCountsDto;

  @ApiProperty({ example: 41000, description: 'Records loaded (CSV lines, JSON items), all files.' })
  rows_loaded!: number;

  @ApiProperty({ example: 205000, description: 'Sensor readings written: rows of raw_sensor_data (a wide CSV line is one reading per metric), all files. The same as `rows_written_by_table.raw_sensor_data`.' })
  readings_loaded!: number;

  @ApiProperty({ example: 205123, description: 'Rows written to the data tables, every table together (readings, log lines, measurements, vehicle statuses, detections).' })
  rows_written!: number;

  @ApiProperty({
    type: 'object',
    properties: tableCounts,
    description:
      'Rows written per data table (every table present, 0 when none): `raw_sensor_data` readings, `log_lines` log lines, `measurements`, ' +
      '`vehicles_status` vehicle statuses, `detection_events` detections. A row counts when a file inserts it or changes its data; a ' +
      'replay that finds its rows stored unchanged writes none.',
  })
  rows_written_by_table!: Record<DataTable, number>;

  @ApiProperty({ example: 12 })
  rows_rejected!: number;

  @ApiProperty({ type: ThroughputDto })
  throughput!: ThroughputDto;

  @ApiProperty({ example: '2026-01-05T10:00:01.000000Z', format: 'date-time', description: 'The database time the throughput was computed at: its window ends here.' })
  at!: string;

  @ApiProperty({ type: StorageDto, description: 'What the data takes on disk, the oldest reading kept, retention settings and the maintenance schedule.' })
  storage!: StorageDto;
}

export class TraceFileDto {
  @ApiProperty({ format: 'uuid', example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10' })
  id!: string;

  @ApiProperty({ example: 'split_1.csv' })
  original_name!: string;

  @ApiProperty({ enum: FILE_STATUSES, example: 'processing' })
  status!: FileStatus;

  @ApiProperty({ nullable: true, type: String, example: 'sensor_wide_csv' })
  kind!: string | null;

  @ApiProperty({ example: 1 })
  attempts!: number;

  @ApiProperty({ example: 998 })
  rows_loaded!: number;

  @ApiProperty({ example: 2 })
  rows_rejected!: number;

  @ApiProperty({ format: 'date-time', example: '2026-01-05T10:00:00.123456Z' })
  created_at!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  started_at!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  finished_at!: string | null;

  @ApiProperty({ nullable: true, type: Number, example: 120, description: 'From entering the queue (arrival, or the latest replay) to the start of processing (or to now while queued).' })
  wait_ms!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 850, description: 'From the start of processing to the outcome (or to now while processing).' })
  processing_ms!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 970, description: 'From entering the queue (arrival, or the latest replay) to the outcome (or to now while in flight).' })
  total_ms!: number | null;
}

export class TraceDto {
  @ApiProperty({ type: [TraceFileDto], description: `Files queued or processing now, oldest first (at most ${IN_FLIGHT_SHOWN}).` })
  in_flight!: TraceFileDto[];

  @ApiProperty({ type: [TraceFileDto], description: `The last ${FINISHED_SHOWN} files that reached a terminal state, newest first.` })
  finished!: TraceFileDto[];
}

export class ErrorsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IntegerParam(1, 100)
  limit?: number;
}

/** A rejected row as /errors shows it: as in GET /files/{id}, without the raw line. */
export class FirstRowErrorDto extends OmitType(RejectedRowDto, ['raw'] as const) {}

export class ErrorFileDto {
  @ApiProperty({ format: 'uuid', example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10' })
  id!: string;

  @ApiProperty({ example: 'empty.csv' })
  original_name!: string;

  @ApiProperty({ enum: ['quarantined', 'failed'], example: 'quarantined' })
  status!: 'quarantined' | 'failed';

  @ApiProperty({ nullable: true, type: String, example: null })
  kind!: string | null;

  @ApiProperty({ type: RejectReasonDto, nullable: true, description: 'Why the file was quarantined or failed.' })
  error!: RejectReasonDto | null;

  @ApiProperty({ example: 0 })
  rows_rejected!: number;

  @ApiProperty({ type: [FirstRowErrorDto], description: `The first ${FIRST_ROW_ERRORS} rejected rows by line (GET /files/{id} has more).` })
  first_row_errors!: FirstRowErrorDto[];

  @ApiProperty({ example: 'quarantine/empty.csv' })
  stored_path!: string;

  @ApiProperty({ format: 'date-time', example: '2026-01-05T10:00:01.654321Z' })
  at!: string;
}

export class ErrorsDto {
  @ApiProperty({ type: [ErrorFileDto], description: 'Quarantined and failed files, newest first.' })
  errors!: ErrorFileDto[];
}
