import { DATA_TABLE_NOUNS, DATA_TABLES, READINGS_TABLE, type RowsByTable } from '@sluice/contracts';

/**
 * SQL: the ledger's rows_written_by_table summed per data table, one text column `w_<table>` each (for a
 * SELECT over ingest_files, grouped or not). The table names are constants, not input.
 */
export const ROWS_WRITTEN_SUMS = DATA_TABLES.map((t) => `coalesce(sum((rows_written_by_table->>'${t}')::bigint), 0)::text AS w_${t}`).join(', ');

/** The per-table sums of a row selected with ROWS_WRITTEN_SUMS (tables at 0 left out). */
export function rowsWrittenOf(row: Record<string, unknown>): RowsByTable {
  const counts: RowsByTable = {};
  for (const t of DATA_TABLES) {
    const n = Number(row[`w_${t}`] ?? 0);
    if (n) counts[t] = n;
  }
  return counts;
}

/** Summary lines for the rows written: readings always, then each other table that has rows, under its own name. */
export function rowsWrittenLines(counts: RowsByTable, format: (n: number) => string): [string, string][] {
  return DATA_TABLES.filter((t) => t === READINGS_TABLE || counts[t]).map((t) => [`${DATA_TABLE_NOUNS[t].many} loaded`, format(counts[t] ?? 0)]);
}
