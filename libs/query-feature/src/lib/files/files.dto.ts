import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FILE_KINDS, FILE_SOURCES, FILE_STATUSES, type FileKind, type FileSource, type FileStatus, ROWS_BY_TABLE_PROPERTIES, type RowsByTable } from '@sluice/contracts';
import { IsIn, IsOptional, IsString, IsUUID } from 'class-validator';
import { IntegerParam } from '@sluice/http';

export const MAX_FILES_PAGE = 1000;
export const DEFAULT_FILES_PAGE = 100;
export const REJECTED_ROWS_SHOWN = 100;

const ID_EXAMPLE = '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10';

export class FilesQueryDto {
  @ApiPropertyOptional({ enum: FILE_STATUSES })
  @IsOptional()
  @IsIn(FILE_STATUSES, { message: `$property must be one of: ${FILE_STATUSES.join(', ')}` })
  status?: FileStatus;

  @ApiPropertyOptional({ enum: FILE_KINDS })
  @IsOptional()
  @IsIn(FILE_KINDS, { message: `$property must be one of: ${FILE_KINDS.join(', ')}` })
  kind?: FileKind;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only the members of this zip archive (its file id).' })
  @IsOptional()
  @IsUUID('all', { message: '$property must be a file id (a UUID)' })
  archive_id?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_FILES_PAGE, default: DEFAULT_FILES_PAGE })
  @IntegerParam(1, MAX_FILES_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page.' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class RejectReasonDto {
  @ApiProperty({ example: 'out_of_range' })
  rule!: string;

  @ApiProperty({ example: 'temp 81.2 is outside -50..50' })
  message!: string;

  @ApiPropertyOptional({ example: 12 })
  line?: number;

  @ApiPropertyOptional({ example: 'temp' })
  column?: string;

  @ApiPropertyOptional({ example: '81.2' })
  value?: string;
}

export class FileDto {
  @ApiProperty({ example: ID_EXAMPLE, format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: FILE_SOURCES, example: 'dropzone' })
  source!: FileSource;

  @ApiProperty({ example: 'sensors/2020-07-12.csv' })
  original_name!: string;

  @ApiProperty({ example: 'processed/2020-07-12/0b9d7c52-2020-07-12.csv' })
  stored_path!: string;

  @ApiProperty({ example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' })
  sha256!: string;

  @ApiProperty({ example: 1048576 })
  size_bytes!: number;

  @ApiProperty({ enum: FILE_KINDS, nullable: true, example: 'sensor_wide_csv' })
  kind!: FileKind | null;

  @ApiProperty({ enum: FILE_STATUSES, example: 'processed' })
  status!: FileStatus;

  @ApiProperty({ nullable: true, type: String, format: 'uuid', example: null })
  duplicate_of!: string | null;

  @ApiProperty({ nullable: true, enum: ['gzip', 'zip'], example: null, description: 'How the stored file is packed; sha256 and size_bytes are of its content (a zip archive: of its own bytes).' })
  compression!: 'gzip' | 'zip' | null;

  @ApiProperty({ nullable: true, type: String, format: 'uuid', example: null, description: 'A member of a zip archive: the archive\'s file id (its members: `GET /files?archive_id=`).' })
  archive_id!: string | null;

  @ApiProperty({ example: 1000 })
  rows_total!: number;

  @ApiProperty({ example: 998 })
  rows_loaded!: number;

  @ApiProperty({ example: 2 })
  rows_rejected!: number;

  @ApiProperty({ example: 4990, description: 'Sensor readings written: rows of raw_sensor_data (a wide CSV line yields one reading per metric); 0 for files of other tables. The same as `rows_written_by_table.raw_sensor_data`.' })
  readings_loaded!: number;

  @ApiProperty({ example: 4990, description: 'Rows written to the data tables, every table together: new keys plus keys whose data the file changed. A replay adds what it writes.' })
  rows_written!: number;

  @ApiProperty({
    type: 'object',
    properties: ROWS_BY_TABLE_PROPERTIES,
    example: { raw_sensor_data: 4990 },
    description:
      '`rows_written` per table, only the tables the file wrote to: `raw_sensor_data` (readings), `log_lines`, `measurements`, ' +
      '`vehicles_status`, `detection_events`. A file of one kind writes one table; an NDJSON file may write several.',
  })
  rows_written_by_table!: RowsByTable;

  @ApiProperty({ type: RejectReasonDto, nullable: true, description: 'Why the file was quarantined or failed.' })
  error!: RejectReasonDto | null;

  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: null,
    description: 'Lines per tag of a loaded plain-text file (`{"error": 1, "info": 2}`); null for other kinds.',
  })
  tag_counts!: Record<string, number> | null;

  @ApiProperty({ example: 1 })
  attempts!: number;

  @ApiProperty({ example: '2026-01-05T10:00:00.123456Z', format: 'date-time' })
  created_at!: string;

  @ApiProperty({ example: '2026-01-05T10:00:01.654321Z', format: 'date-time' })
  updated_at!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-01-05T10:00:00.200000Z' })
  started_at!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-01-05T10:00:01.654321Z' })
  finished_at!: string | null;
}

export class FilesPageDto {
  @ApiProperty({ type: [FileDto] })
  files!: FileDto[];

  @ApiProperty({ nullable: true, type: String, example: 'MjAyNi0wMS0wNVQxMDowMDowMC4xMjM0NTZafDBiOWQ3YzUy', description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}

export class RejectedRowDto {
  @ApiProperty({ nullable: true, type: Number, example: 12 })
  line!: number | null;

  @ApiProperty({ nullable: true, type: String, example: 'temp' })
  column!: string | null;

  @ApiProperty({ example: 'out_of_range' })
  rule!: string;

  @ApiProperty({ example: 'temp 81.2 is outside -50..50' })
  message!: string;

  @ApiProperty({ nullable: true, type: String, example: '1594512094.3859746,b8:27:eb:bf:9d:51,81.2' })
  raw!: string | null;
}

export class FileDetailDto extends FileDto {
  @ApiProperty({ type: [RejectedRowDto], description: `The first ${REJECTED_ROWS_SHOWN} rejected rows, by line.` })
  rejected_rows!: RejectedRowDto[];

  @ApiProperty({ example: false, description: `True when the file has more than ${REJECTED_ROWS_SHOWN} rejected rows recorded.` })
  rejected_rows_truncated!: boolean;
}
