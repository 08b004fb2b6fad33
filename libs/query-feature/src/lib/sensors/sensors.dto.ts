import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { IntegerParam } from '@sluice/http';
import { RetentionNoteDto } from '../http/retention-horizon';
import { IsoTimestampParam } from '../http/time-range';

export const MAX_READINGS_PAGE = 10000;
export const DEFAULT_READINGS_PAGE = 1000;
/** Highest `page`: with page_size ≤ 10,000 the offset stays far inside PostgreSQL's bigint. */
export const MAX_PAGE_NUMBER = 1_000_000_000;
export const BUCKETS = ['hour', 'day'] as const;
export type Bucket = (typeof BUCKETS)[number];

const TS_EXAMPLE = '2020-07-12T00:01:34.385975Z';

export class SensorDto {
  @ApiProperty({ example: 'b8:27:eb:bf:9d:51/temp', description: '`<device>/<metric>`, or the UUID of a long-CSV sensor until its mapping arrives.' })
  name!: string;

  @ApiProperty({ example: null, nullable: true, type: String, format: 'uuid' })
  uuid!: string | null;

  @ApiProperty({ example: 'b8:27:eb:bf:9d:51', nullable: true, type: String })
  device!: string | null;

  @ApiProperty({ example: 'temp', nullable: true, type: String })
  metric!: string | null;

  @ApiProperty({ example: 187451, description: 'Readings loaded (sum of the day aggregates).' })
  reading_count!: number;

  @ApiProperty({ example: TS_EXAMPLE, nullable: true, type: String, format: 'date-time', description: 'UTC, microseconds.' })
  first_ts!: string | null;

  @ApiProperty({ example: '2020-07-20T00:03:37.598656Z', nullable: true, type: String, format: 'date-time' })
  last_ts!: string | null;
}

export class ReadingsQueryDto {
  @IsoTimestampParam('First timestamp included (ts >= from).', '2020-07-12T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End of the range, excluded (ts < to).', '2020-07-13T00:00:00Z')
  to?: string;

  @ApiPropertyOptional({ description: 'Readings per page (keyset mode).', minimum: 1, maximum: MAX_READINGS_PAGE, default: DEFAULT_READINGS_PAGE })
  @IntegerParam(1, MAX_READINGS_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page. Not combined with `page`.' })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ description: 'Offset pagination: page number from 1 (same ordering as the cursor).', minimum: 1, maximum: MAX_PAGE_NUMBER })
  @IntegerParam(1, MAX_PAGE_NUMBER)
  page?: number;

  @ApiPropertyOptional({ description: 'Readings per page with `page` (defaults to `limit`, then 1000).', minimum: 1, maximum: MAX_READINGS_PAGE })
  @IntegerParam(1, MAX_READINGS_PAGE)
  page_size?: number;
}

export class ReadingDto {
  @ApiProperty({ example: TS_EXAMPLE, format: 'date-time', description: 'UTC, microseconds.' })
  ts!: string;

  @ApiProperty({ example: 22.7 })
  value!: number;

  @ApiProperty({ example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', format: 'uuid', description: 'The ledger row the reading came from.' })
  file_id!: string;
}

export class ReadingsPageDto {
  @ApiProperty({ example: 'b8:27:eb:bf:9d:51/temp' })
  sensor!: string;

  @ApiProperty({ type: [ReadingDto] })
  readings!: ReadingDto[];

  @ApiProperty({ example: 'MjAyMC0wNy0xMlQwMDowMTozNC4zODU5NzVa', nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.' })
  next_cursor!: string | null;

  @ApiPropertyOptional({ type: RetentionNoteDto, description: 'Present when the range starts before the retention horizon of this data (see the `Sluice-Retention-Horizon` header).' })
  retention?: RetentionNoteDto;
}

export class AggregatesQueryDto {
  @ApiPropertyOptional({ enum: BUCKETS, default: 'hour' })
  @IsOptional()
  @IsIn(BUCKETS, { message: '$property must be one of: hour, day' })
  bucket?: Bucket;

  @IsoTimestampParam('First bucket included (bucket_start >= from).', '2020-07-12T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End, excluded (bucket_start < to).', '2020-07-13T00:00:00Z')
  to?: string;
}

export class AggregateDto {
  @ApiProperty({ example: '2020-07-12T00:00:00.000000Z', format: 'date-time' })
  bucket_start!: string;

  @ApiProperty({ example: 1187 })
  count!: number;

  @ApiProperty({ example: 19.3 })
  min!: number;

  @ApiProperty({ example: 24.1 })
  max!: number;

  @ApiProperty({ example: 22.06 })
  mean!: number;

  @ApiProperty({ example: 0.91, description: 'Population standard deviation.' })
  std_dev!: number;
}

export class AggregatesDto {
  @ApiProperty({ example: 'b8:27:eb:bf:9d:51/temp' })
  sensor!: string;

  @ApiProperty({ enum: BUCKETS, example: 'hour' })
  bucket!: Bucket;

  @ApiProperty({ type: [AggregateDto] })
  aggregates!: AggregateDto[];

  @ApiPropertyOptional({ type: RetentionNoteDto, description: 'Present when the range starts before the retention horizon of this data (see the `Sluice-Retention-Horizon` header).' })
  retention?: RetentionNoteDto;
}
