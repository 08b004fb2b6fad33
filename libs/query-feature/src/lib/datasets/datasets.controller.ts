import { Controller, Get, Headers, HttpStatus, Logger, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { QueryApiConfig } from '@sluice/config';
import type { ContractProblem, ContractVersion } from '@sluice/datasets';
import { CsvWriter } from '@sluice/formats';
import { ApiErrorDto, ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { Contracts } from '@sluice/loading';
import { basename } from 'node:path';
import { exportResponse } from '../http/export-stream';
import { assertRange, optionalTimestamptz as ts } from '../http/time-range';
import { EXPORT_CONTENT_TYPES, ExportEncoder, exportFormatFor } from '../sensors/readings-export';
import { decodeDatasetCursor, encodeDatasetCursor } from './dataset-cursor';
import { type ContractProblemDto, DatasetRowsPageDto, DatasetRowsQueryDto, DatasetsDto, DEFAULT_DATASET_PAGE } from './datasets.dto';
import { DATASET_EXPORT_BATCH_ROWS, datasetColumns, type DatasetRowsFilter, DatasetsRepository } from './datasets.repository';

const NUMBER_TYPES = new Set(['int', 'bigint', 'float', 'numeric']);
/** A jsonb value is written as its JSON text in a CSV cell. */
const cell = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);

export function problemDto(p: ContractProblem): ContractProblemDto {
  // The file's name only: the API does not tell where the server keeps its folders.
  return { file: basename(p.file), line: p.line ?? null, field: p.field ?? null, message: p.message };
}

@ApiTags('datasets')
@ApiKeyProtected()
@Controller('datasets')
export class DatasetsController {
  private readonly logger = new Logger(DatasetsController.name);

  constructor(
    private readonly contracts: Contracts,
    private readonly datasets: DatasetsRepository,
    private readonly config: QueryApiConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The data contracts in force, with their tables, rows and files; and the contract files refused',
    description:
      'One entry per contract in force (docs/contracts.md): its table, version and when that was first used, the rows in the table ' +
      '(exact up to 100,000, an estimate past that), the files loaded through it by status and the latest load. A contract whose table ' +
      'is not made yet has 0 rows. `problems` lists why contract files in the folder are refused.',
  })
  @ApiOkResponse({ type: DatasetsDto })
  async list(): Promise<DatasetsDto> {
    const versions = this.contracts.all();
    const figures = await this.datasets.figures(versions);
    return {
      datasets: figures.map((f, i) => {
        const { contract } = versions[i];
        return { ...f, key: contract.table.key, time_column: contract.table.timeColumn ?? null, columns: datasetColumns(contract) };
      }),
      problems: this.contracts.problems().map(problemDto),
    };
  }

  @Get(':name/rows')
  @ApiOperation({
    summary: 'Rows of a dataset in key order (JSON pages, or a CSV / NDJSON export of every match)',
    description:
      'Keyset pagination in the order of the contract\'s key: follow `next_cursor` until it is null. `from`/`to` filter on the ' +
      'contract\'s `time_column` ([from, to)); a contract without one answers 400. With `Accept: text/csv` (the columns of `columns`, ' +
      'a header line first) or `Accept: application/x-ndjson` every matching row is streamed from a database cursor in key order; ' +
      '`limit` and `cursor` are refused there.',
  })
  @ApiParam({ name: 'name', example: 'weather', description: 'The contract\'s name.' })
  @ApiProduces('application/json', 'text/csv', 'application/x-ndjson')
  @ApiOkResponse({ type: DatasetRowsPageDto })
  @ApiNotFound('No contract of that name is in force.')
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The table lacks columns of the contract in force (the contract changed after the table was made).' })
  async rows(@Param('name') name: string, @Query() q: DatasetRowsQueryDto, @Headers('accept') accept?: string): Promise<DatasetRowsPageDto | StreamableFile> {
    const version = this.inForce(name);
    const { contract } = version;
    if ((q.from !== undefined || q.to !== undefined) && contract.table.timeColumn === undefined) {
      throw ApiException.invalidParameter(q.from !== undefined ? 'from' : 'to', `dataset ${contract.name} has no time_column in its contract, so it cannot be filtered by time`);
    }
    assertRange(q.from, q.to);
    const filter: DatasetRowsFilter = { from: ts(q.from), to: ts(q.to) };
    const keyTypes = contract.table.key.map((k) => contract.columns.find((c) => c.name === k)?.type ?? 'text');
    if (q.cursor !== undefined) filter.after = decodeDatasetCursor(q.cursor, keyTypes);
    const columns = datasetColumns(contract);
    const table = await this.datasets.inspect(contract);
    if (table.exists && table.missing.length > 0) {
      throw new ApiException(
        HttpStatus.CONFLICT,
        'conflict',
        `the table ${this.datasets.schema}.${contract.table.name} has no column ${table.missing.join(', ')} of the contract ${contract.name} in force: the contract changed after its table was made; sluice contract diff and docs/contracts.md say how to bring them together`,
        { dataset: contract.name, missing_columns: table.missing },
      );
    }
    const exists = table.exists;
    const format = exportFormatFor(accept);
    if (format) {
      for (const p of ['limit', 'cursor'] as const) {
        if (q[p] !== undefined) throw ApiException.invalidParameter(p, `pages do not apply to a ${format} export, which streams every matching row`);
      }
      const csv = format === 'csv' ? new CsvWriter<unknown[]>(columns.map((c) => ({ name: c.name, kind: NUMBER_TYPES.has(c.type) || c.name === 'line' ? 'number' : 'text' })), { neutraliseFormulas: this.config.CSV_FORMULA_ESCAPE }) : undefined;
      const toLine = csv ? (row: unknown[]) => csv.line(row.map(cell)) : (row: unknown[]) => `${JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, row[i]])))}\n`;
      const encoder = new ExportEncoder<unknown[]>(toLine, csv?.header ?? '', DATASET_EXPORT_BATCH_ROWS);
      if (!exists) {
        encoder.end();
        return new StreamableFile(encoder, { type: EXPORT_CONTENT_TYPES[format], disposition: `attachment; filename="${contract.name}.${format}"` });
      }
      const rows = await this.datasets.export(contract, filter);
      return exportResponse(rows, encoder, EXPORT_CONTENT_TYPES[format], `${contract.name}.${format}`, this.logger, `dataset ${contract.name}`);
    }
    if (!exists) return { dataset: contract.name, columns, rows: [], next_cursor: null };
    const limit = q.limit ?? DEFAULT_DATASET_PAGE;
    const rows = await this.datasets.page(contract, filter, limit + 1).catch((e: unknown) => {
      // Every cursor value was checked against its column type; should PostgreSQL still refuse one (a data
      // exception, class 22), the cursor is at fault, not the server.
      if (filter.after && /^22/.test(String((e as { code?: unknown }).code))) throw ApiException.invalidParameter('cursor', 'is not a cursor issued by this API');
      throw e;
    });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return { dataset: contract.name, columns, rows: page, next_cursor: more ? encodeDatasetCursor(contract.table.key.map((k) => last[k])) : null };
  }

  /** The contract in force by that name; the name reaches nothing else (no SQL, no path). */
  private inForce(name: string): ContractVersion {
    const version = this.contracts.get(name);
    if (!version) throw new ApiException(HttpStatus.NOT_FOUND, 'not_found', `unknown dataset ${JSON.stringify(name.slice(0, 100))}: no data contract of that name is in force`, { dataset: name.slice(0, 100) });
    return version;
  }
}
