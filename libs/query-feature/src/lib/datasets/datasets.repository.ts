import { Injectable, Logger } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import { quoteIdentifier } from '@sluice/contracts';
import type { ColumnType, Contract, ContractVersion } from '@sluice/datasets';
import { datasetFigures, type DatasetFigures, sqlTypeOf } from '@sluice/db';
import type { Pool } from 'pg';
import type { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { openExportCursor } from '../http/export-stream';
import { isoUs } from '../http/sql.util';

/** Rows an export reads a round trip and buffers ahead of the socket: a contract row may hold long text or JSON. */
export const DATASET_EXPORT_BATCH_ROWS = 500;

/** A column of a dataset's rows as the API returns them: the contract's columns, then the lineage columns. */
export interface DatasetColumn {
  name: string;
  type: ColumnType | 'uuid';
}

export interface DatasetRowsFilter {
  /** Time range on the contract's time column: [from, to), UTC text. */
  from?: string;
  to?: string;
  /** Keyset position: rows after these key values (cursor text, in key order). */
  after?: string[];
}

/** Every column a row of the contract's table is read with, in order. */
export function datasetColumns(contract: Contract): DatasetColumn[] {
  return [...contract.columns.map((c) => ({ name: c.name, type: c.type })), { name: 'file_id', type: 'uuid' }, { name: 'line', type: 'int' }];
}

/**
 * How a column is selected: timestamps as UTC text with microseconds, dates as YYYY-MM-DD, bigint and numeric as
 * text (exact beyond 2^53), the rest as pg gives them. The name is a validated identifier, quoted.
 */
function selected(c: DatasetColumn): string {
  const q = quoteIdentifier(c.name);
  switch (c.type) {
    case 'timestamptz':
      return `${isoUs(q)} AS ${q}`;
    case 'date':
      return `to_char(${q}, 'YYYY-MM-DD') AS ${q}`;
    case 'bigint':
    case 'numeric':
    case 'uuid':
      return `${q}::text AS ${q}`;
    case 'text':
    case 'int':
    case 'float':
    case 'bool':
    case 'jsonb':
      return q;
    default: {
      const unknown: never = c.type;
      throw new Error(`no rendering of column type ${String(unknown)}`);
    }
  }
}

/**
 * Read-side SQL over the tables of data contracts. Identifiers come only from the contract in force (validated
 * when read, checked again by quoteIdentifier); every value is a bind parameter.
 */
@Injectable()
export class DatasetsRepository {
  private readonly logger = new Logger(DatasetsRepository.name);
  readonly schema: string;

  constructor(
    private readonly db: DataSource,
    config: CommonConfig,
  ) {
    this.schema = config.CONTRACTS_SCHEMA;
  }

  figures(versions: readonly ContractVersion[]): Promise<DatasetFigures[]> {
    return datasetFigures(this.db, this.schema, versions);
  }

  private table(contract: Contract): string {
    return `${quoteIdentifier(this.schema)}.${quoteIdentifier(contract.table.name)}`;
  }

  /**
   * Whether the contract's table exists yet (the first file loaded through the contract makes it), and which of the
   * contract's columns it lacks: a contract edited since its table was made (a load refuses such a table; a read
   * names it rather than fail on it).
   */
  async inspect(contract: Contract): Promise<{ exists: false } | { exists: true; missing: string[] }> {
    const live: { name: string }[] = await this.db.query(
      `SELECT a.attname AS name FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE c.oid = to_regclass($1)`,
      [this.table(contract)],
    );
    if (live.length === 0) return { exists: false };
    const names = new Set(live.map((c) => c.name));
    return { exists: true, missing: datasetColumns(contract).map((c) => c.name).filter((n) => !names.has(n)) };
  }

  /** The statement and values of a read in key order, with the filter (the time column exists when from/to is given). */
  private query(contract: Contract, filter: DatasetRowsFilter, limit?: number): { sql: string; values: unknown[] } {
    const values: unknown[] = [];
    const bind = (v: unknown, type: string) => {
      values.push(v);
      return `$${values.length}::${type}`;
    };
    const where: string[] = [];
    const time = contract.table.timeColumn;
    if (time !== undefined) {
      if (filter.from !== undefined) where.push(`${quoteIdentifier(time)} >= ${bind(filter.from, 'timestamptz')}`);
      if (filter.to !== undefined) where.push(`${quoteIdentifier(time)} < ${bind(filter.to, 'timestamptz')}`);
    }
    const key = contract.table.key;
    const types = new Map(contract.columns.map((c) => [c.name, c.type]));
    if (filter.after) {
      // A row comparison on the primary key's columns in its order: an index range scan, whatever the page.
      const after = filter.after;
      where.push(`(${key.map(quoteIdentifier).join(', ')}) > (${key.map((k, i) => bind(after[i], sqlTypeOf(types.get(k) ?? 'text'))).join(', ')})`);
    }
    const sql = `SELECT ${datasetColumns(contract).map(selected).join(', ')}
       FROM ${this.table(contract)}
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${key.map(quoteIdentifier).join(', ')}${limit === undefined ? '' : ` LIMIT ${bind(limit, 'int')}`}`;
    return { sql, values };
  }

  /** One page of rows as objects, in key order. */
  async page(contract: Contract, filter: DatasetRowsFilter, limit: number): Promise<Record<string, unknown>[]> {
    const { sql, values } = this.query(contract, filter, limit);
    return this.db.query(sql, values);
  }

  /** Every matching row as an array (columns as datasetColumns), in key order, through a cursor (see openExportCursor). */
  export(contract: Contract, filter: Omit<DatasetRowsFilter, 'after'>): Promise<Readable> {
    const { sql, values } = this.query(contract, filter);
    const pool = (this.db.driver as PostgresDriver).master as Pool;
    return openExportCursor(pool, sql, values, this.logger, `dataset ${contract.name}`, DATASET_EXPORT_BATCH_ROWS);
  }
}
