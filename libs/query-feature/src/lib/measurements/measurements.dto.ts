import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { IntegerParam } from '@sluice/http';
import { IsoTimestampParam } from '../http/time-range';

export const MAX_MEASUREMENTS_PAGE = 10000;
export const DEFAULT_MEASUREMENTS_PAGE = 1000;

export class MeasurementsQueryDto {
  @IsoTimestampParam('First timestamp included (timestamp_utc >= from).', '2019-05-01T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End of the range, excluded (timestamp_utc < to).', '2019-05-02T00:00:00Z')
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_MEASUREMENTS_PAGE, default: DEFAULT_MEASUREMENTS_PAGE })
  @IntegerParam(1, MAX_MEASUREMENTS_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page.' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class MeasurementDto {
  @ApiProperty({ example: '2019-05-01T10:00:00.000000Z', format: 'date-time', description: 'UTC, microseconds (the primary key).' })
  timestamp_utc!: string;

  @ApiProperty({ example: 0.9125 })
  mean!: number;

  @ApiProperty({ example: 0.4301, description: 'Population standard deviation of the payload samples.' })
  std_dev!: number;

  @ApiProperty({ example: 16 })
  sample_count!: number;

  @ApiProperty({ example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', format: 'uuid', description: 'The ledger row the value came from.' })
  file_id!: string;
}

export class MeasurementsPageDto {
  @ApiProperty({ type: [MeasurementDto] })
  measurements!: MeasurementDto[];

  @ApiProperty({ nullable: true, type: String, example: 'MjAxOS0wNS0wMVQxMDowMDowMC4wMDAwMDBa', description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}
