import { IDENTIFIER, type RejectReason } from '@sluice/contracts';
import {
  compileColumn,
  diffColumns,
  fits,
  formatDiff,
  recordColumns,
  valueAt,
  type ColumnDiff,
  type ColumnValueParser,
  type Contract,
  type ContractColumn,
  type RecordBatch,
  type SourceRecord,
} from '@sluice/datasets';

/** Columns every contract table has besides the contract's own. */
export const BOOKKEEPING_COLUMNS = ['file_id', 'line'] as const;

/** Values of each file column handed to drift detection (enough to tell a rename from an addition). */
const DRIFT_SAMPLES = 20;

/** One column of the table as this file fills it: where its value is in a record, and how it is read. */
export interface PlannedColumn {
  column: ContractColumn;
  read: (record: SourceRecord) => unknown;
  parse: ColumnValueParser;
}

/** How a file's records become the table's rows, decided once on its first batch. */
export interface ColumnPlan {
  /** In COPY order: the contract's columns, then the file's columns added to the table (`add_columns`). */
  columns: PlannedColumn[];
  /** Columns the file brings that the table does not have yet (`add_columns`): text, nullable. */
  added: ContractColumn[];
  /** How the file's columns differ from the contract's, as `contract diff` lists them. */
  drift: ColumnDiff[];
}

/** The file cannot be loaded with the contract's columns: the reason, and the differences. */
export interface DriftRefusal {
  refusal: RejectReason;
  drift: ColumnDiff[];
}

/**
 * Maps the contract's columns onto a file by its first batch (the CSV header, or for JSON and NDJSON the
 * fields of the first records) and applies the contract's drift policy:
 * - quarantine: any column missing from the file, optional or not, or any column the contract does not name
 *   refuses the file;
 * - ignore_extra: extra columns are not read, missing optional ones are null, a missing required one refuses it;
 *   an optional column the file retyped (its first values hold one that no longer fits the type) is read as far
 *   as its values fit, and a value that does not is null;
 * - add_columns: as ignore_extra, but extra columns are loaded as text into columns named after them, and the
 *   values of a retyped column that do not fit are kept as text in `<column>_raw`.
 * A value that does not fit its type in a column the file did not retype (it looked right at the start), or in a
 * required column, stays a row error, as under quarantine: nothing is set null that the policy did not allow.
 */
export function planColumns(contract: Contract, first: RecordBatch): ColumnPlan | DriftRefusal {
  const json = contract.format.type !== 'csv';
  const sources = contract.columns.map((c) => c.source);
  let fileColumns = json ? coveredColumns(recordColumns(first), sources) : [...(first.header ?? [])];
  // A body taken by its kind: the `kind` field routed it, and is a column only when the contract names it.
  if (contract.format.type === 'ndjson' && contract.format.lineKind !== undefined && !sources.includes('kind')) fileColumns = fileColumns.filter((c) => c !== 'kind');
  const inFile = new Set(fileColumns);
  const named = new Set(sources);
  const missing = contract.columns.filter((c) => !inFile.has(c.source));
  const extra = fileColumns.filter((source) => !named.has(source));

  const sampled = fileColumns.map((source, index) => ({
    source,
    samples: first.records.slice(0, DRIFT_SAMPLES).map((r) => (Array.isArray(r.values) ? r.values[index] : valueAt(r.values, source))),
  }));
  const drift = diffColumns({ columns: contract.columns, format: contract.format }, { columns: sampled });
  // Drift is about the header line of a CSV file, and about the first record of JSON.
  const { format } = contract;
  const line = format.type === 'csv' && format.header ? format.skipLines + 1 : (first.records[0]?.line ?? 1);
  const refuse = (message: string): DriftRefusal => ({ refusal: { rule: 'schema_drift', message, line }, drift });
  const differences = formatDiff(drift).join('; ');

  // Under quarantine a retyped column alone refuses nothing: each value that does not fit is a row error.
  if (contract.drift === 'quarantine' && (missing.length || extra.length)) {
    return refuse(`the file's columns differ from contract "${contract.name}" (drift: quarantine refuses such a file): ${differences}`);
  }
  const requiredMissing = missing.filter((c) => c.required);
  if (requiredMissing.length) {
    const names = requiredMissing.map((c) => `"${c.source}"`).join(', ');
    return refuse(`the file lacks the required column(s) ${names} of contract "${contract.name}": ${differences}`);
  }

  const decimalComma = format.type === 'csv' && format.decimalComma;
  /** Per optional column the file retyped (lenient policies only): whether a value no longer fits its type. */
  const misfits = new Map<string, (raw: unknown) => boolean>();
  if (contract.drift !== 'quarantine') {
    const retyped = new Set(drift.flatMap((d) => (d.change === 'type_changed' ? [d.source] : [])));
    for (const c of contract.columns) if (retyped.has(c.source) && !c.required) misfits.set(c.source, (raw) => !fits(c.type, raw, { decimalComma, formats: c.formats }));
  }

  const added: ContractColumn[] = [];
  /** Names of the added columns that keep the misfits of a retyped column. */
  const rawColumns = new Set<string>();
  if (contract.drift === 'add_columns') {
    const taken = new Set<string>([...contract.columns.map((c) => c.name), ...BOOKKEEPING_COLUMNS]);
    const add = (source: string, name: string, what: string): DriftRefusal | null => {
      if (!IDENTIFIER.test(name)) {
        return refuse(`${what} cannot be made a column name (lowercase letters, digits and _, not starting with a digit, at most 63): rename it in the file or add it to contract "${contract.name}"`);
      }
      if (taken.has(name)) return refuse(`${what} would be named "${name}", which the table already uses: rename it in the file or add it to contract "${contract.name}"`);
      taken.add(name);
      added.push({ source, name, type: 'text', required: false, ambiguous: 'reject' });
      return null;
    };
    for (const source of extra) {
      const refused = add(source, columnNameFor(source), `the file's new column "${source}"`);
      if (refused) return refused;
    }
    for (const c of contract.columns.filter((column) => misfits.has(column.source))) {
      const refused = add(c.source, rawColumnName(c.name), `the column for the values of "${c.source}" that are no longer ${c.type}`);
      if (refused) return refused;
      rawColumns.add(rawColumnName(c.name));
    }
  }

  const context = { timezone: contract.timezone, decimalComma, jsonSource: json };
  const columns = [...contract.columns, ...added].map((column): PlannedColumn => {
    const compiled = compileColumn(column, context);
    const misfit = misfits.get(column.source);
    let parse = compiled;
    // The typed column takes what fits and is null where a value does not; its `_raw` column holds only those.
    if (misfit && rawColumns.has(column.name)) parse = (raw) => (misfit(raw) ? compiled(raw) : NULL_TEXT);
    else if (misfit) {
      parse = (raw) => {
        const value = compiled(raw);
        return value.ok || !misfit(raw) ? value : NULL_TEXT;
      };
    }
    return { column, read: json ? jsonReader(column.source) : csvReader(fileColumns.indexOf(column.source)), parse };
  });
  return { columns, added, drift };
}

const NULL_TEXT = Object.freeze({ ok: true as const, text: null });

/** Where add_columns keeps the values of a retyped column that no longer fit its type: `humidity` → `humidity_raw`. */
export function rawColumnName(name: string): string {
  return `${name}_raw`;
}

/** The name an added column gets from its source: lowercase, every other character `_` (`Wind Speed` → `wind_speed`). */
export function columnNameFor(source: string): string {
  return source.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/**
 * The columns of JSON records as the contract sees them: a leaf inside a source the contract names (`meta.a`
 * under a jsonb column `meta`) is that source, so nested values of one column are not extra columns.
 */
function coveredColumns(leaves: readonly string[], sources: readonly string[]): string[] {
  const columns = new Set<string>();
  for (const leaf of leaves) columns.add(sources.find((s) => leaf === s || leaf.startsWith(`${s}.`)) ?? leaf);
  return [...columns];
}

function csvReader(index: number): (record: SourceRecord) => unknown {
  // A missing optional column: every value is absent (null).
  if (index < 0) return () => undefined;
  return (record) => (record.values as string[])[index];
}

function jsonReader(source: string): (record: SourceRecord) => unknown {
  return (record) => valueAt(record.values as Record<string, unknown>, source);
}
