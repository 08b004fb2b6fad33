import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsString,
  Length,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { MAX_ABS_VALUE, parseInstant, sensorNameProblem } from '../sensor/sensor-record';
import { textProblem } from '../text/storable-text.util';

/**
 * The JSON kinds of SPEC §4.2–4.5 as class-validator DTOs. Shared by the processor (files) and the
 * ingest API (request bodies); validate them with `validateDocument` / `validateItem`, which whitelist
 * and forbid unknown fields and turn errors into field paths and rule codes.
 */

export const ID_MAX = 128;
export const LABEL_MAX = 64;
export const MEASUREMENT_MAX_SAMPLES = 1_000_000;
export const INT32_MAX = 2_147_483_647;


/** A time stamp as the DTOs take it: ISO-8601 with an offset, at most 40 characters. */
export const isTimestampWithOffset = (v: unknown): v is string => typeof v === 'string' && v.length <= 40 && !Number.isNaN(parseInstant(v));

/** ISO-8601 date-time carrying an offset (`Z`, `+02:00`), a real calendar date. */
export function IsTimestampWithOffset(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestampWithOffset',
      validator: {
        validate: isTimestampWithOffset,
        defaultMessage: () => '$property must be an ISO-8601 date-time with an offset',
      },
    },
    options,
  );
}

/** Text PostgreSQL can store: no NUL, no bytes that were not UTF-8, no lone surrogate (see `textProblem`). */
export function IsStorableText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || textProblem(v) === null,
        defaultMessage: () => '$property must be text without NUL characters, in UTF-8',
      },
    },
    options,
  );
}

/** A sensor name: not empty, and within SENSOR_NAME_MAX characters (`sensorNameProblem`, the rule every input shares). */
export function IsSensorName(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSensorName',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || (v !== '' && sensorNameProblem(v) === null),
        defaultMessage: () => '$property must be a sensor name of 1 to SENSOR_NAME_MAX characters',
      },
    },
    options,
  );
}

/** A number Sluice stores: finite and within ±MAX_ABS_VALUE (beyond it statistics could overflow). */
export const isStorableNumber = (x: unknown): x is number => typeof x === 'number' && x >= -MAX_ABS_VALUE && x <= MAX_ABS_VALUE;

/** Every element a storable number (not NaN, not ±Infinity, not beyond ±MAX_ABS_VALUE, not a numeric string, not null). */
export function IsFiniteNumberArray(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isFiniteNumberArray',
      validator: {
        validate: (v: unknown) => Array.isArray(v) && v.every(isStorableNumber),
        defaultMessage: () => '$property must hold finite numbers only',
      },
    },
    options,
  );
}

/** A JSON number that is storable: "1.2", null, NaN, Infinity and 1e300 are refused, never coerced. */
export function IsFiniteNumber(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isFiniteNumber',
      validator: {
        validate: isStorableNumber,
        defaultMessage: () => '$property must be a finite number',
      },
    },
    options,
  );
}

// ---- 4.2 vehicle status ------------------------------------------------------------------------------------

export class VehicleStatusItemDto {
  @IsDefined()
  @IsString()
  @IsStorableText()
  @Length(1, ID_MAX)
  vehicle_id!: string;

  @IsDefined()
  @IsTimestampWithOffset()
  report_time!: string;

  @IsDefined()
  @IsString()
  @IsStorableText()
  @Length(1, LABEL_MAX)
  status!: string;
}

// ---- 4.3 detections ----------------------------------------------------------------------------------------

export class DetectionDto {
  @IsDefined()
  @IsString()
  @IsStorableText()
  @Length(1, LABEL_MAX)
  object_type!: string;

  @IsDefined()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  object_value!: number;
}

export class DetectionEventItemDto {
  @IsDefined()
  @IsString()
  @IsStorableText()
  @Length(1, ID_MAX)
  vehicle_id!: string;

  @IsDefined()
  @IsTimestampWithOffset()
  detection_time!: string;

  @IsDefined()
  @IsArray()
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => DetectionDto)
  detections!: DetectionDto[];
}

// ---- 4.4 measurement ---------------------------------------------------------------------------------------

export class MeasurementDto {
  @IsDefined()
  @IsTimestampWithOffset()
  time_stamp!: string;

  @IsDefined()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MEASUREMENT_MAX_SAMPLES)
  @IsFiniteNumberArray()
  data!: number[];
}

// ---- 4.5 NDJSON lines --------------------------------------------------------------------------------------

export const LINE_KINDS = ['vehicle_status', 'detection', 'measurement', 'sensor_reading'] as const;
export type LineKind = (typeof LINE_KINDS)[number];

export class VehicleStatusLineDto extends VehicleStatusItemDto {
  @IsIn(['vehicle_status'])
  kind!: 'vehicle_status';
}

export class DetectionLineDto extends DetectionEventItemDto {
  @IsIn(['detection'])
  kind!: 'detection';
}

export class MeasurementLineDto extends MeasurementDto {
  @IsIn(['measurement'])
  kind!: 'measurement';
}

export class SensorReadingLineDto {
  @IsIn(['sensor_reading'])
  kind!: 'sensor_reading';

  @IsDefined()
  @IsString()
  @IsStorableText()
  @IsSensorName()
  sensor!: string;

  @IsDefined()
  @IsTimestampWithOffset()
  ts!: string;

  @IsDefined()
  @IsFiniteNumber()
  value!: number;
}

export type NdjsonLineDto = VehicleStatusLineDto | DetectionLineDto | MeasurementLineDto | SensorReadingLineDto;
