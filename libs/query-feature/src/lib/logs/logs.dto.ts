import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IntegerParam } from '@sluice/http';
import { RetentionNoteDto } from '../http/retention-horizon';
import { IsoTimestampParam } from '../http/time-range';

export const MAX_LOGS_PAGE = 1000;
export const DEFAULT_LOGS_PAGE = 100;
/** Characters of a message a JSON page shows (the export has them all): a page stays a few MB whatever the lines. */
export const PAGE_MESSAGE_CHARS = 8192;
export const LOG_ORDERS = ['desc', 'asc'] as const;
export type LogOrder = (typeof LOG_ORDERS)[number];

const FILE_ID_EXAMPLE = '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10';

export class LogsQueryDto {
  @ApiPropertyOptional({ example: 'error', description: 'Only lines of this tag (compared in lower case, as tags are stored).' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  tag?: string;

  @ApiPropertyOptional({ example: 'input.log', description: 'Only lines of this file: its ledger id, or its name as received (every file of that name).' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  file?: string;

  @IsoTimestampParam('First line timestamp included (ts >= from); lines without a timestamp are left out when from or to is given.', '2024-07-21T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End of the range, excluded (ts < to).', '2024-07-22T00:00:00Z')
  to?: string;

  @ApiPropertyOptional({
    example: 'failed connect',
    description:
      'Full-text search of the message (PostgreSQL `websearch_to_tsquery`, configuration `simple`: whole words, any case; `"a phrase"`, `or`, `-word`). Only the first 65,536 characters of a message are indexed.',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  q?: string;

  @ApiPropertyOptional({
    enum: LOG_ORDERS,
    description:
      'JSON pages: `desc` (the default) newest loaded first, `asc` in load order. CSV and NDJSON exports: `asc` (the default) in ' +
      'file order, the files oldest first (as they arrived) and each file\'s lines by line number; `desc` the reverse.',
  })
  @IsOptional()
  @IsIn(LOG_ORDERS, { message: `$property must be one of: ${LOG_ORDERS.join(', ')}` })
  order?: LogOrder;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LOGS_PAGE, default: DEFAULT_LOGS_PAGE })
  @IntegerParam(1, MAX_LOGS_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page (same filters and order).' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class LogLineDto {
  @ApiProperty({ example: FILE_ID_EXAMPLE, format: 'uuid', description: 'The ledger row of the file.' })
  file_id!: string;

  @ApiProperty({ example: 'input.log', description: 'The file name as received.' })
  file_name!: string;

  @ApiProperty({ example: 3, description: 'Line number in the file, from 1.' })
  line!: number;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null, description: 'When the line starts with a timestamp.' })
  ts!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'error', description: 'Lower case; null when the line names none.' })
  tag!: string | null;

  @ApiProperty({ example: 'failed to connect' })
  message!: string;

  @ApiProperty({ example: false, description: `True when the message is longer than the ${PAGE_MESSAGE_CHARS} characters shown (the CSV/NDJSON export has it whole).` })
  message_truncated!: boolean;
}

export class LogsPageDto {
  @ApiProperty({ type: [LogLineDto] })
  lines!: LogLineDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;

  @ApiPropertyOptional({ type: RetentionNoteDto, description: 'Present when the range starts before the retention horizon of this data (see the `Sluice-Retention-Horizon` header).' })
  retention?: RetentionNoteDto;
}

export class TagCountDto {
  @ApiProperty({ example: 'error' })
  tag!: string;

  @ApiProperty({ example: 12 })
  lines!: number;
}

export class LogTagsDto {
  @ApiProperty({ type: [TagCountDto], description: 'Lines per tag over every loaded plain-text file, most lines first (tags past the first 100 of a file count as `(other)`).' })
  tags!: TagCountDto[];

  @ApiProperty({ example: 3, description: 'Plain-text files loaded.' })
  files!: number;

  @ApiProperty({ example: 40, description: 'Lines loaded from them, tagged or not.' })
  lines!: number;
}
