import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { COLUMN_TYPES } from '@sluice/datasets';
import { IntegerParam } from '@sluice/http';
import { IsOptional, IsString } from 'class-validator';
import { IsoTimestampParam } from '../http/time-range';

export const MAX_DATASET_PAGE = 1000;
export const DEFAULT_DATASET_PAGE = 100;
const HASH_EXAMPLE = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

export class DatasetColumnDto {
  @ApiProperty({ example: 'observed_at' })
  name!: string;

  @ApiProperty({ enum: [...COLUMN_TYPES, 'uuid'], example: 'timestamptz', description: 'The contract\'s type; `file_id` is a uuid.' })
  type!: string;
}

export class DatasetDto {
  @ApiProperty({ example: 'weather', description: 'The contract\'s name (its file name without `.yaml`).' })
  name!: string;

  @ApiProperty({ example: 'datasets.weather', description: 'The table, schema-qualified (`CONTRACTS_SCHEMA`).' })
  table!: string;

  @ApiProperty({ example: HASH_EXAMPLE, description: 'The version in force: the sha256 of the contract file.' })
  version!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-01-05T10:00:00.123456Z', description: 'When this version first loaded a file or made the table; null before then.' })
  first_used_at!: string | null;

  @ApiProperty({ example: true, description: 'False until the first file loaded through the contract makes the table.' })
  table_exists!: boolean;

  @ApiProperty({ example: 1280, description: 'Rows in the table: counted exactly up to 100,000; past that the planner\'s estimate (`rows_exact` false), so the list costs the same for a table of billions.' })
  rows!: number;

  @ApiProperty({ example: true })
  rows_exact!: boolean;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { processed: 3, quarantined: 1 }, description: 'Files loaded through the contract (any version), by ledger status; statuses without files left out.' })
  files!: Record<string, number>;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-01-05T10:00:01.654321Z', description: 'When the latest of those files finished; null when none has.' })
  last_load_at!: string | null;

  @ApiProperty({ type: [String], example: ['station', 'observed_at'], description: 'The key: the order of `/datasets/{name}/rows`.' })
  key!: string[];

  @ApiProperty({ nullable: true, type: String, example: 'observed_at', description: 'The column `from`/`to` filter on; null when the contract names none.' })
  time_column!: string | null;

  @ApiProperty({ type: [DatasetColumnDto], description: 'The columns of a row: the contract\'s, then `file_id` and `line` (where each row came from).' })
  columns!: DatasetColumnDto[];
}

export class ContractProblemDto {
  @ApiProperty({ example: 'meters.yaml', description: 'The contract file (its name in the contracts folder).' })
  file!: string;

  @ApiProperty({ nullable: true, type: Number, example: 12 })
  line!: number | null;

  @ApiProperty({ nullable: true, type: String, example: 'columns[2].type' })
  field!: string | null;

  @ApiProperty({ example: 'must be one of: text, int, bigint, float, numeric, bool, timestamptz, date, jsonb' })
  message!: string;
}

export class DatasetsDto {
  @ApiProperty({ type: [DatasetDto], description: 'Every contract in force, by name.' })
  datasets!: DatasetDto[];

  @ApiProperty({ type: [ContractProblemDto], description: 'Why contract files are refused (a refused edit of a contract leaves its previous version in force).' })
  problems!: ContractProblemDto[];
}

export class DatasetRowsQueryDto {
  @IsoTimestampParam('First time included (time_column >= from); only for a contract with a `time_column`.', '2024-03-30T00:00:00Z')
  from?: string;

  @IsoTimestampParam('End of the range, excluded (time_column < to).', '2024-03-31T00:00:00Z')
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_DATASET_PAGE, default: DEFAULT_DATASET_PAGE })
  @IntegerParam(1, MAX_DATASET_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page (same filters).' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class DatasetRowsPageDto {
  @ApiProperty({ example: 'weather' })
  dataset!: string;

  @ApiProperty({ type: [DatasetColumnDto] })
  columns!: DatasetColumnDto[];

  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    example: [{ station: 'DWD-10385', observed_at: '2024-03-30T19:00:00.000000Z', temperature_c: 11.5, humidity_pct: 62, conditions: 'cloudy', file_id: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', line: 2 }],
    description: 'Rows in key order, by column name: timestamps UTC with microseconds, dates YYYY-MM-DD, bigint and numeric as strings (exact), jsonb as JSON.',
  })
  rows!: Record<string, unknown>[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}
