import type { ColumnType } from '@sluice/datasets';

const UNESCAPES: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

/** A key as RowMaker gives it (COPY texts joined by tabs) back as the values PostgreSQL reads from it. */
export function keyValues(key: string): string[] {
  return key.split('\t').map((text) => text.replace(/\\(.)/g, (_, c: string) => UNESCAPES[c] ?? c));
}

/** The SQL type a contract column's text is cast to when it is compared with its table's column. */
export const SQL_TYPES: Record<ColumnType, string> = {
  text: 'text',
  int: 'integer',
  bigint: 'bigint',
  float: 'double precision',
  numeric: 'numeric',
  bool: 'boolean',
  timestamptz: 'timestamptz',
  date: 'date',
  jsonb: 'jsonb',
};
