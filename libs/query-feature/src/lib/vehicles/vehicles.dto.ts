import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { IntegerParam } from '@sluice/http';
import { IsoTimestampParam } from '../http/time-range';

export const MAX_PAGE = 10000;
export const DEFAULT_PAGE = 1000;

const VEHICLE_EXAMPLE = '8fd7b0fa-7f2f-4dd4-8cda-31e1e1b1a5bb';

class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
  @IntegerParam(1, MAX_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page.' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class VehiclesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'driving', description: 'Only vehicles whose latest status is this.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  status?: string;
}

export class DetectionsRangeQueryDto extends PageQueryDto {
  @IsoTimestampParam('First detection time included (detection_time >= from).', '2022-05-05T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End of the range, excluded (detection_time < to).', '2022-05-06T00:00:00Z')
  to?: string;

  @ApiPropertyOptional({ example: 'cars' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  object_type?: string;
}

export class DetectionsQueryDto extends DetectionsRangeQueryDto {
  @ApiPropertyOptional({ example: VEHICLE_EXAMPLE })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  vehicle_id?: string;
}

export class VehicleDto {
  @ApiProperty({ example: VEHICLE_EXAMPLE })
  vehicle_id!: string;

  @ApiProperty({ example: 'driving', description: 'The status with the newest report_time received.' })
  status!: string;

  @ApiProperty({ example: '2022-05-05T22:02:34.546000Z', format: 'date-time' })
  report_time!: string;

  @ApiProperty({ example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', format: 'uuid', description: 'The ledger row this status came from.' })
  file_id!: string;

  @ApiProperty({ example: '2026-01-05T10:00:01.654321Z', format: 'date-time' })
  updated_at!: string;
}

export class VehiclesPageDto {
  @ApiProperty({ type: [VehicleDto] })
  vehicles!: VehicleDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}

export class DetectionDto {
  @ApiProperty({ example: VEHICLE_EXAMPLE })
  vehicle_id!: string;

  @ApiProperty({ example: '2022-05-05T22:02:34.546000Z', format: 'date-time' })
  detection_time!: string;

  @ApiProperty({ example: 'cars' })
  object_type!: string;

  @ApiProperty({ example: 2 })
  object_value!: number;

  @ApiProperty({ example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', format: 'uuid' })
  file_id!: string;
}

export class DetectionsPageDto {
  @ApiProperty({ type: [DetectionDto], description: 'Ordered by detection_time, then vehicle_id, then object_type.' })
  detections!: DetectionDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}
