import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { AMBIGUOUS_POLICIES, COLUMN_TYPES, DRIFT_POLICIES, ENCODINGS, KEY_POLICIES } from '../contract';

/**
 * The contract file as written (snake_case, as in YAML), for class-validator: shapes, types and bounds of single
 * fields. Rules across fields (a key column exists, a format needs a zone) are checked in plain code after it.
 * Messages are templates: `{field}` becomes the dotted path of the field, `{found}` a description of its value.
 */

export const MAX_COLUMNS = 500;
export const MAX_ENUM_VALUES = 1_000;
export const MAX_TEXT_LENGTH = 1_000_000;
export const MAX_PATTERN_LENGTH = 500;
export const MAX_FORMATS = 20;
export const MAX_FORMAT_LENGTH = 100;
export const MAX_SKIP_LINES = 1_000;
export const MAX_GLOB_LENGTH = 200;
/** PostgreSQL allows at most 32 columns in an index, so in a primary key. */
export const MAX_KEY_COLUMNS = 32;
/** Sources, header names, prefixes, enum values: bounded so a contract stays a small document. */
export const MAX_NAME_LENGTH = 200;
export const MAX_PATH_LENGTH = 1_024;

const missing = { message: '{field} is missing; add it' };
const text = { message: '{field} must be text, found {found}' };
const eachText = { each: true, message: '{field} must be a list of text values' };
const bool = { message: '{field} must be true or false, found {found}' };
const list = { message: '{field} must be a list, found {found}' };
const mapping = { message: '{field} must be a mapping of fields (name: value), found {found}' };
const number = { message: '{field} must be a number, found {found}' };
const wholeNumber = { message: '{field} must be a whole number, found {found}' };
const oneOf = (values: readonly string[]) => ({ message: `{field} must be one of ${values.join(', ')}, found {found}` });
const length = (what: string, max: number) => ({ message: `{field} must be 1 to ${max.toLocaleString('en')} characters of ${what}, found {found}` });
const atMost = (max: number, things: string) => ({ message: `{field} has {count} ${things}: at most ${max.toLocaleString('en')} are allowed` });
const notEmpty = { message: '{field} is an empty list; give at least one value' };

export class S3InputDto {
  @IsDefined(missing)
  @IsString(text)
  @Length(1, 32, length('an S3_SOURCES name', 32))
  source!: string;

  @IsDefined(missing)
  @IsString(text)
  @MaxLength(MAX_PATH_LENGTH, length('key prefix', MAX_PATH_LENGTH))
  prefix!: string;
}

export class InputsDto {
  @IsOptional()
  @IsString(text)
  @Length(1, MAX_GLOB_LENGTH, length('a file name glob', MAX_GLOB_LENGTH))
  glob?: string;

  @IsOptional()
  @IsString(text)
  @Length(1, 100, length('a folder name', 100))
  folder?: string;

  @IsOptional()
  @IsObject(mapping)
  @ValidateNested(mapping)
  @Type(() => S3InputDto)
  s3?: S3InputDto;

  @IsOptional()
  @IsString(text)
  @Length(1, 63, length('a kind name', 63))
  kind?: string;
}

export class FormatDto {
  @IsDefined(missing)
  @IsIn(['csv', 'ndjson', 'json'], oneOf(['csv', 'ndjson', 'json']))
  type!: 'csv' | 'ndjson' | 'json';

  @IsOptional()
  @IsString(text)
  delimiter?: string;

  @IsOptional()
  @IsString(text)
  quote?: string;

  @IsOptional()
  @IsBoolean(bool)
  header?: boolean;

  @IsOptional()
  @IsArray(list)
  @ArrayNotEmpty(notEmpty)
  @ArrayMaxSize(MAX_COLUMNS, atMost(MAX_COLUMNS, 'names'))
  @IsString(eachText)
  @Length(1, MAX_NAME_LENGTH, { each: true, ...length('a column name', MAX_NAME_LENGTH) })
  columns?: string[];

  @IsOptional()
  @IsBoolean(bool)
  decimal_comma?: boolean;

  @IsOptional()
  @IsIn(ENCODINGS, oneOf(ENCODINGS))
  encoding?: (typeof ENCODINGS)[number];

  @IsOptional()
  @IsInt(wholeNumber)
  @Min(0, { message: `{field} must be 0 to ${MAX_SKIP_LINES}, found {found}` })
  @Max(MAX_SKIP_LINES, { message: `{field} must be 0 to ${MAX_SKIP_LINES}, found {found}` })
  skip_lines?: number;

  @IsOptional()
  @IsString(text)
  @MaxLength(MAX_NAME_LENGTH, length('a dotted path', MAX_NAME_LENGTH))
  records_path?: string;
}

export class ColumnDto {
  @IsDefined(missing)
  @IsString(text)
  @Length(1, MAX_NAME_LENGTH, length('a header name or dotted path', MAX_NAME_LENGTH))
  source!: string;

  @IsDefined(missing)
  @IsString(text)
  name!: string;

  @IsDefined(missing)
  @IsIn(COLUMN_TYPES, oneOf(COLUMN_TYPES))
  type!: (typeof COLUMN_TYPES)[number];

  @IsOptional()
  @IsBoolean(bool)
  required?: boolean;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, number)
  min?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, number)
  max?: number;

  @IsOptional()
  @IsArray(list)
  @ArrayNotEmpty(notEmpty)
  @ArrayMaxSize(MAX_ENUM_VALUES, atMost(MAX_ENUM_VALUES, 'values'))
  @IsString({ each: true, message: '{field} must be a list of text values: quote numbers and true/false ("1", "true")' })
  @MaxLength(MAX_NAME_LENGTH, { each: true, message: `{field} has a value longer than ${MAX_NAME_LENGTH} characters` })
  enum?: string[];

  @IsOptional()
  @IsInt(wholeNumber)
  @Min(1, { message: `{field} must be 1 to ${MAX_TEXT_LENGTH.toLocaleString('en')}, found {found}` })
  @Max(MAX_TEXT_LENGTH, { message: `{field} must be 1 to ${MAX_TEXT_LENGTH.toLocaleString('en')}, found {found}` })
  max_length?: number;

  @IsOptional()
  @IsString(text)
  @Length(1, MAX_PATTERN_LENGTH, length('a regular expression', MAX_PATTERN_LENGTH))
  pattern?: string;

  @IsOptional()
  @IsArray(list)
  @ArrayNotEmpty(notEmpty)
  @ArrayMaxSize(MAX_FORMATS, atMost(MAX_FORMATS, 'formats'))
  @IsString(eachText)
  @Length(1, MAX_FORMAT_LENGTH, { each: true, message: `{field} has a format that is empty or longer than ${MAX_FORMAT_LENGTH} characters` })
  formats?: string[];

  @IsOptional()
  @IsString(text)
  @MaxLength(MAX_NAME_LENGTH, length('an IANA time zone', MAX_NAME_LENGTH))
  timezone?: string;

  @IsOptional()
  @IsIn(AMBIGUOUS_POLICIES, oneOf(AMBIGUOUS_POLICIES))
  ambiguous?: (typeof AMBIGUOUS_POLICIES)[number];
}

export class TableDto {
  @IsOptional()
  @IsString(text)
  name?: string;

  @IsDefined(missing)
  @IsArray(list)
  @ArrayNotEmpty({ message: '{field} is an empty list; name the column(s) that identify a row' })
  @ArrayMaxSize(MAX_KEY_COLUMNS, atMost(MAX_KEY_COLUMNS, 'columns'))
  @IsString(eachText)
  key!: string[];

  @IsOptional()
  @IsIn(KEY_POLICIES, oneOf(KEY_POLICIES))
  on_duplicate_key?: (typeof KEY_POLICIES)[number];

  @IsOptional()
  @IsString(text)
  newest_by?: string;

  @IsOptional()
  @IsString(text)
  time_column?: string;
}

export class ContractFileDto {
  @IsDefined(missing)
  @IsObject(mapping)
  @ValidateNested(mapping)
  @Type(() => InputsDto)
  inputs!: InputsDto;

  @IsDefined(missing)
  @IsObject(mapping)
  @ValidateNested(mapping)
  @Type(() => FormatDto)
  format!: FormatDto;

  @IsOptional()
  @IsString(text)
  @MaxLength(MAX_NAME_LENGTH, length('an IANA time zone', MAX_NAME_LENGTH))
  timezone?: string;

  @IsDefined(missing)
  @IsArray(list)
  @ArrayNotEmpty({ message: '{field} is an empty list; describe at least one column' })
  @ArrayMaxSize(MAX_COLUMNS, atMost(MAX_COLUMNS, 'columns'))
  @ValidateNested({ each: true, message: '{field} must be a column: a mapping of fields (source: …, name: …, type: …), found {found}' })
  @Type(() => ColumnDto)
  columns!: ColumnDto[];

  @IsDefined(missing)
  @IsObject(mapping)
  @ValidateNested(mapping)
  @Type(() => TableDto)
  table!: TableDto;

  @IsOptional()
  @IsIn(DRIFT_POLICIES, oneOf(DRIFT_POLICIES))
  drift?: (typeof DRIFT_POLICIES)[number];
}
