import { DATA_TABLES, IDENTIFIER } from '@sluice/contracts';

/**
 * Reserved words of PostgreSQL (and SQL) a table or column may not be called, so generated SQL never reads
 * ambiguously; the common ones, not the whole list.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'all', 'analyse', 'analyze', 'and', 'any', 'array', 'as', 'asc', 'asymmetric', 'authorization', 'between', 'binary', 'both',
  'case', 'cast', 'check', 'collate', 'collation', 'column', 'concurrently', 'constraint', 'create', 'cross', 'current_catalog',
  'current_date', 'current_role', 'current_schema', 'current_time', 'current_timestamp', 'current_user', 'default',
  'deferrable', 'delete', 'desc', 'distinct', 'do', 'drop', 'else', 'end', 'except', 'false', 'fetch', 'for', 'foreign',
  'freeze', 'from', 'full', 'grant', 'group', 'having', 'ilike', 'in', 'initially', 'inner', 'insert', 'intersect', 'into',
  'is', 'isnull', 'join', 'lateral', 'leading', 'left', 'like', 'limit', 'localtime', 'localtimestamp', 'natural', 'not',
  'notnull', 'null', 'offset', 'on', 'only', 'or', 'order', 'outer', 'overlaps', 'placing', 'primary', 'references',
  'returning', 'right', 'select', 'session_user', 'similar', 'some', 'symmetric', 'system_user', 'table', 'tablesample',
  'then', 'to', 'trailing', 'true', 'union', 'unique', 'update', 'user', 'using', 'variadic', 'verbose', 'when', 'where',
  'window', 'with',
]);

/** Columns Sluice adds to every contract table for lineage: the ledger row of the file, the line in it. */
export const LINEAGE_COLUMNS: readonly string[] = ['file_id', 'line'];

/** Sluice's own tables (besides the data tables of its built-in kinds): a contract table may not take their names. */
export const SLUICE_TABLES: readonly string[] = [
  ...DATA_TABLES,
  'ingest_files',
  'ingest_errors',
  'ingest_payloads',
  'sensors',
  'aggregated_metrics',
  'daily_aggregated_metrics',
  'maintenance_runs',
  'contract_versions',
  'migrations',
];

/** Why `name` cannot be a PostgreSQL identifier in a contract (`what` names it in the sentence), or null when it can. */
export function identifierProblem(name: string, what: string): string | null {
  if (!IDENTIFIER.test(name)) {
    return `${what} ${quote(name)} is not a valid name: use 1 to 63 lower-case letters, digits and _, starting with a letter or _`;
  }
  if (RESERVED_WORDS.has(name)) return `${what} ${quote(name)} is a reserved word of SQL; choose another name (e.g. ${name}_value)`;
  if (name.startsWith('pg_')) return `${what} ${quote(name)} starts with pg_, which PostgreSQL keeps for its own names; choose another name`;
  return null;
}

/** Why `name` cannot be a column of a contract table, or null when it can. */
export function columnNameProblem(name: string, what: string): string | null {
  const problem = identifierProblem(name, what);
  if (problem) return problem;
  if (LINEAGE_COLUMNS.includes(name)) {
    return `${what} ${quote(name)} is reserved: Sluice adds the columns ${LINEAGE_COLUMNS.join(' and ')} to every contract table for lineage; choose another name`;
  }
  return null;
}

/** Why `name` cannot be a contract's table, or null when it can. */
export function tableNameProblem(name: string, what: string): string | null {
  const problem = identifierProblem(name, what);
  if (problem) return problem;
  if (SLUICE_TABLES.includes(name)) return `${what} ${quote(name)} is one of Sluice's own tables; choose another name`;
  return null;
}

/** A user's value in a sentence: JSON-quoted so spaces and control characters show, and capped. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}
