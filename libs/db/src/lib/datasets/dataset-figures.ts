import { quoteIdentifier } from '@sluice/contracts';
import type { ContractVersion } from '@sluice/datasets';
import type { SqlQueryable } from '../storage-usage';

/**
 * Rows counted exactly up to this many; a larger table reports the planner's estimate instead, so listing the
 * datasets costs a bounded read whatever their size (counting a table of a billion rows reads all of it).
 */
export const EXACT_ROW_COUNT_LIMIT = 100_000;

export interface DatasetFigures {
  /** The contract's name. */
  name: string;
  /** `<schema>.<table>`. */
  table: string;
  /** The version in force: the sha256 of its file. */
  version: string;
  /** When that version first loaded or made a table (contract_versions); null before then. */
  first_used_at: string | null;
  /** Whether the table exists yet (it is made by the first file loaded through the contract). */
  table_exists: boolean;
  /** Rows in the table: exact up to EXACT_ROW_COUNT_LIMIT, else the planner's estimate (`rows_exact` false). */
  rows: number;
  rows_exact: boolean;
  /** Ledger rows loaded through the contract (any version), by status; statuses without files left out. */
  files: Record<string, number>;
  /** The latest finished_at of those files; null when none has finished. */
  last_load_at: string | null;
}

const rowsOf = <T>(r: unknown): T[] => (Array.isArray(r) ? (r as T[]) : (((r as { rows?: T[] }).rows ?? []) as T[]));
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The figures of each contract in force: its version and when it was first used, the rows of its table and the
 * files loaded through it. Shared by `GET /datasets`, the dashboard and `sluice status`. Every identifier comes
 * from the validated contract and is quoted; a table that does not exist yet has 0 rows.
 */
export async function datasetFigures(db: SqlQueryable, schema: string, versions: readonly ContractVersion[]): Promise<DatasetFigures[]> {
  if (versions.length === 0) return [];
  const names = versions.map((v) => v.contract.name);
  const known = rowsOf<{ name: string; hash: string; first_used_at: string }>(
    await db.query(`SELECT name, hash, ${iso('first_used_at')} AS first_used_at FROM contract_versions WHERE name = ANY($1::text[])`, [names]),
  );
  // The partial index on ingest_files (contract_name, contract_hash) serves this without reading other files.
  const files = rowsOf<{ name: string; status: string; n: number; last: string | null }>(
    await db.query(
      `SELECT contract_name AS name, status, count(*)::int AS n, ${iso('max(finished_at)')} AS last
         FROM ingest_files WHERE contract_name = ANY($1::text[]) GROUP BY contract_name, status`,
      [names],
    ),
  );
  const figures: DatasetFigures[] = [];
  for (const v of versions) {
    const { name } = v.contract;
    const qualified = `${quoteIdentifier(schema)}.${quoteIdentifier(v.contract.table.name)}`;
    const rows = await tableRows(db, qualified);
    const mine = files.filter((f) => f.name === name);
    const last = mine.map((f) => f.last).filter((t): t is string => t !== null).sort().pop() ?? null;
    figures.push({
      name,
      table: `${schema}.${v.contract.table.name}`,
      version: v.hash,
      first_used_at: known.find((k) => k.name === name && k.hash === v.hash)?.first_used_at ?? null,
      table_exists: rows !== null,
      rows: rows?.rows ?? 0,
      rows_exact: rows?.exact ?? true,
      files: Object.fromEntries(mine.map((f) => [f.status, f.n])),
      last_load_at: last,
    });
  }
  return figures;
}

/** The rows of one table (null when it does not exist): counted up to the limit, estimated past it. */
async function tableRows(db: SqlQueryable, qualified: string): Promise<{ rows: number; exact: boolean } | null> {
  const [found] = rowsOf<{ estimate: string | null }>(
    await db.query(
      `SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE COALESCE(s.n_live_tup, 0) END::bigint::text AS estimate
         FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass($1)`,
      [qualified],
    ),
  );
  if (!found) return null;
  // Reads at most LIMIT + 1 rows of the smallest index: exact for a small table, a bounded cost for a big one.
  const [counted] = rowsOf<{ n: string }>(await db.query(`SELECT count(*)::text AS n FROM (SELECT 1 FROM ${qualified} LIMIT ${EXACT_ROW_COUNT_LIMIT + 1}) t`));
  const n = Number(counted.n);
  if (n <= EXACT_ROW_COUNT_LIMIT) return { rows: n, exact: true };
  return { rows: Math.max(Number(found.estimate ?? 0), n), exact: false };
}
