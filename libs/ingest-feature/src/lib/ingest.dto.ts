import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FILE_KINDS, FILE_SOURCES, FILE_STATUSES, type FileKind, type FileSource, type FileStatus, ROWS_BY_TABLE_PROPERTIES, type RowsByTable } from '@sluice/contracts';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';

const ID_EXAMPLE = '6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1e7c30';
const toBool = ({ value }: { value: unknown }) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value);

export class IngestAcceptedDto {
  @ApiProperty({ format: 'uuid', example: ID_EXAMPLE, description: 'Ledger id of the stored payload.' })
  raw_id!: string;

  @ApiProperty({ example: `/ingest/${ID_EXAMPLE}`, description: 'Where to follow it (GET).' })
  status_url!: string;
}

export class RowErrorDto {
  @ApiProperty({ nullable: true, type: Number, example: 3, description: 'Line (NDJSON, CSV) or the line of the item in a JSON document.' })
  line!: number | null;

  @ApiProperty({ nullable: true, type: String, example: 'data[2]' })
  column!: string | null;

  @ApiProperty({ example: 'not_a_number' })
  rule!: string;

  @ApiProperty({ example: 'data[2] must be a finite number, found the string "x"' })
  message!: string;

  @ApiProperty({ nullable: true, type: String, description: 'The offending text, capped.' })
  raw!: string | null;
}

export class IngestReasonDto {
  @ApiProperty({ example: 'invalid_timestamp' })
  rule!: string;

  @ApiProperty({ example: 'time_stamp "2019-05-01T06:00:00" has no offset' })
  message!: string;

  @ApiPropertyOptional({ example: 1 })
  line?: number;

  @ApiPropertyOptional({ example: 'time_stamp' })
  column?: string;

  @ApiPropertyOptional()
  value?: string;
}

export class IngestStatusDto {
  @ApiProperty({ format: 'uuid', example: ID_EXAMPLE })
  raw_id!: string;

  @ApiProperty({ enum: FILE_STATUSES, example: 'processed', description: 'queued → processing → processed | quarantined | duplicate | failed' })
  status!: FileStatus;

  @ApiProperty({ enum: FILE_KINDS, nullable: true, example: 'measurement', description: 'Set once the processor has read it.' })
  kind!: FileKind | null;

  @ApiProperty({ enum: FILE_SOURCES, example: 'api' })
  source!: FileSource;

  @ApiProperty({ example: `${ID_EXAMPLE}.json` })
  original_name!: string;

  @ApiProperty({ example: 2471 })
  size_bytes!: number;

  @ApiProperty({ example: '3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b' })
  sha256!: string;

  @ApiProperty({ example: 1, description: 'Items read (document items, NDJSON lines, CSV lines).' })
  rows_total!: number;

  @ApiProperty({ example: 1 })
  rows_loaded!: number;

  @ApiProperty({ example: 0 })
  rows_rejected!: number;

  @ApiProperty({ example: 0, description: 'Sensor readings written: rows of raw_sensor_data (0 for a measurement, vehicle status or detection document).' })
  readings_loaded!: number;

  @ApiProperty({ example: 1, description: 'Rows written to the data tables, every table together (a replay adds what it writes).' })
  rows_written!: number;

  @ApiProperty({
    type: 'object',
    properties: ROWS_BY_TABLE_PROPERTIES,
    example: { measurements: 1 },
    description: '`rows_written` per table, only the tables it wrote to: `raw_sensor_data` (readings), `measurements`, `vehicles_status`, `detection_events`, `log_lines`.',
  })
  rows_written_by_table!: RowsByTable;

  @ApiProperty({ type: IngestReasonDto, nullable: true, description: 'Why it was quarantined or failed.' })
  error!: IngestReasonDto | null;

  @ApiProperty({ type: [RowErrorDto], description: 'The first rejected rows, in line order (at most 20).' })
  errors!: RowErrorDto[];

  @ApiProperty({ nullable: true, type: String, format: 'uuid', example: null, description: 'For a duplicate: the payload or file with the same content.' })
  duplicate_of!: string | null;

  @ApiProperty({ example: 1 })
  attempts!: number;

  @ApiProperty({ example: 0 })
  replays!: number;

  @ApiProperty({ type: String, format: 'date-time' })
  received_at!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finished_at!: string | null;
}

export class RawIdParamsDto {
  @ApiProperty({ format: 'uuid', example: ID_EXAMPLE })
  @IsUUID('all', { message: '$property must be a UUID' })
  raw_id!: string;
}

export class FileIdParamsDto {
  @ApiProperty({ format: 'uuid', example: ID_EXAMPLE })
  @IsUUID('all', { message: '$property must be a UUID' })
  id!: string;
}

export class UploadQueryDto {
  @ApiPropertyOptional({ example: 'split_1.csv', description: 'Name of the file (required for a raw body; a multipart part may carry its own).' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  filename?: string;
}

export class ProcessQueryDto {
  @ApiPropertyOptional({ default: 60000, minimum: 0, description: 'Re-drive queued/processing rows unchanged for this long.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: '$property must be an integer' })
  @Min(0)
  @Max(7 * 24 * 3600 * 1000)
  older_than_ms?: number;

  @ApiPropertyOptional({ default: true, description: 'Also replay files that ended `failed`.' })
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: '$property must be true or false' })
  failed?: boolean;
}

export class ProcessSkipDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'content_live' })
  code!: string;

  @ApiProperty()
  message!: string;
}

export class ProcessResultDto {
  @ApiProperty({ type: [String], description: 'Stuck rows published again.' })
  redriven!: string[];

  @ApiProperty({ type: [String], description: 'Failed files queued again.' })
  replayed!: string[];

  @ApiProperty({ type: [ProcessSkipDto], description: 'Failed files that could not be replayed, and why.' })
  skipped!: ProcessSkipDto[];
}
