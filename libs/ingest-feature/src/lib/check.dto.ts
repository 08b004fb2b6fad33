import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { CheckReport, CheckSample, CheckVerdict } from '@sluice/loading';

export class CheckSampleDto implements CheckSample {
  @ApiProperty({ example: 'not_a_number' })
  rule!: string;

  @ApiProperty({ example: 7, description: 'Line of the file (1 = the header of a CSV).' })
  line!: number;

  @ApiProperty({ nullable: true, type: String, example: 'temp' })
  column!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'abc' })
  value!: string | null;

  @ApiProperty({ example: 'temp must be a number, found "abc"' })
  message!: string;
}

export class CheckReportDto implements CheckReport {
  @ApiProperty({ example: 'weather_2024-03-31.csv' })
  file!: string;

  @ApiProperty({ nullable: true, type: String, description: 'SHA-256 of the content (of a gzip file: of what it unpacks to), as the ledger would keep it.' })
  sha256!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'contract', description: 'The built-in kind detected, `contract` when a data contract takes the file, null when nothing does.' })
  kind!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'weather' })
  contract!: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'The contract version (hash of its file) that would load it.' })
  contract_version!: string | null;

  @ApiProperty({ nullable: true, type: Number, example: 96, description: 'Records read; null for a kind whose rows are not counted (see `reason`).' })
  rows_total!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 95, description: 'Rows the load would count as loaded (0 when it would be quarantined).' })
  would_load!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 0, description: 'Rows whose key is loaded already (or repeated in the file), which the load would not write again.' })
  duplicate_rows!: number | null;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { not_a_number: 1 }, description: 'Rejected rows by rule.' })
  rejected!: Record<string, number>;

  @ApiProperty({ type: [CheckSampleDto], description: 'The first few rejected rows of each rule.' })
  samples!: CheckSampleDto[];

  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'How the file’s columns (or the contract’s table) differ from the contract.' })
  drift!: unknown[];

  @ApiProperty({ enum: ['load', 'duplicate', 'quarantine'], example: 'load' })
  verdict!: CheckVerdict;

  @ApiProperty({ nullable: true, type: String, example: null, description: 'Why it would be quarantined (`rule: message`) or is a duplicate; with `load`, a note on what was not checked.' })
  reason!: string | null;

  @ApiPropertyOptional({ format: 'uuid', description: 'With `duplicate`: the ledger id of the live file with the same content.' })
  duplicate_of?: string;
}
