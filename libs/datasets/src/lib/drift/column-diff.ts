import type { ColumnType, ContractFormat } from '../contract';
import { inferColumn } from '../infer/infer-column';
import type { SampledColumn } from '../infer/sniff-csv';
import { fits, valueText } from '../infer/values';

/** How a file's columns differ from its contract's, one column at a time. */
export type ColumnDiff =
  | { change: 'added'; source: string; inferredType: ColumnType }
  | { change: 'removed'; source: string; name: string }
  | { change: 'renamed'; from: string; to: string; name: string }
  | { change: 'type_changed'; source: string; name: string; expected: ColumnType; found: ColumnType; sample: string };

/** What drift needs of a contract: its columns (a `ContractColumn` will do) and how its CSV writes numbers. */
export interface DiffContract {
  columns: { source: string; name: string; type: ColumnType; formats?: string[] }[];
  format?: ContractFormat;
}

export interface DiffFile {
  /** The file's columns in file order, with sampled values. */
  columns: SampledColumn[];
}

const MAX_SAMPLE_TEXT = 60;

/**
 * The differences between a file's columns and a contract's, matched by source:
 * - type_changed: a source both have, with a sampled value that does not load as the contract's type (the first
 *   such value is given);
 * - renamed: a file column the contract lacks, where a contract column the file lacks stands (the same index, or
 *   after the same shared column), with values that load as that column's type (a text column is only renamed to
 *   a column that infers as text too: any value fits text);
 * - removed and added: the rest.
 * Removed, renamed and type_changed come in contract order, then added in file order.
 */
export function diffColumns(contract: DiffContract, file: DiffFile): ColumnDiff[] {
  const decimalComma = contract.format?.type === 'csv' && contract.format.decimalComma;
  const fileSources = new Set(file.columns.map((c) => c.source));
  const contractSources = new Set(contract.columns.map((c) => c.source));
  const inferred = new Map(file.columns.map((c) => [c.source, inferColumn(c.source, c.samples, { decimalComma })]));
  /** The nearest earlier column both have, or '' at the start: where a column stands relative to the shared ones. */
  const anchor = (sources: string[], index: number, shared: Set<string>) => {
    for (let i = index - 1; i >= 0; i--) if (shared.has(sources[i])) return sources[i];
    return '';
  };
  const shared = new Set([...fileSources].filter((s) => contractSources.has(s)));
  const fileOrder = file.columns.map((c) => c.source);
  const contractOrder = contract.columns.map((c) => c.source);
  const renamedTo = new Set<string>();
  const diffs: ColumnDiff[] = [];

  contract.columns.forEach((column, index) => {
    const options = { decimalComma, formats: column.formats };
    if (fileSources.has(column.source)) {
      const samples = file.columns.find((c) => c.source === column.source)?.samples ?? [];
      const misfit = samples.find((v) => !fits(column.type, v, options));
      if (misfit !== undefined) {
        const found = inferred.get(column.source)?.type ?? 'text';
        const sample = valueText(misfit).slice(0, MAX_SAMPLE_TEXT);
        diffs.push({ change: 'type_changed', source: column.source, name: column.name, expected: column.type, found, sample });
      }
      return;
    }
    const rename = file.columns.find((candidate, fileIndex) => {
      if (contractSources.has(candidate.source) || renamedTo.has(candidate.source)) return false;
      const samePlace = fileIndex === index || anchor(fileOrder, fileIndex, shared) === anchor(contractOrder, index, shared);
      if (!samePlace || !candidate.samples.every((v) => fits(column.type, v, options))) return false;
      return column.type !== 'text' || inferred.get(candidate.source)?.type === 'text';
    });
    if (rename) {
      renamedTo.add(rename.source);
      diffs.push({ change: 'renamed', from: column.source, to: rename.source, name: column.name });
    } else {
      diffs.push({ change: 'removed', source: column.source, name: column.name });
    }
  });

  for (const column of file.columns) {
    if (contractSources.has(column.source) || renamedTo.has(column.source)) continue;
    diffs.push({ change: 'added', source: column.source, inferredType: inferred.get(column.source)?.type ?? 'text' });
  }
  return diffs;
}

/**
 * One line per difference, for a person and for a quarantine reason: `+ humidity (float): new column`,
 * `- wind: missing`, `~ Temp → Temperatur: renamed`, `! pressure: expected float, found text ("n/a")`.
 */
export function formatDiff(diffs: ColumnDiff[]): string[] {
  return diffs.map((diff) => {
    switch (diff.change) {
      case 'added':
        return `+ ${diff.source} (${diff.inferredType}): new column`;
      case 'removed':
        return `- ${diff.source}: missing`;
      case 'renamed':
        return `~ ${diff.from} → ${diff.to}: renamed`;
      case 'type_changed':
        return `! ${diff.source}: expected ${diff.expected}, found ${diff.found} (${JSON.stringify(diff.sample)})`;
    }
  });
}
