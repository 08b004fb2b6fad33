import type { SourceRecord } from './record-batch';

/** Most columns `recordColumns` lists: records with ever new member names must not grow the list without end. */
export const MAX_RECORD_COLUMNS = 1000;

/**
 * The columns of a batch or sample: the CSV header, or for JSON and NDJSON the dotted paths of the leaves
 * seen in the records (`meta.id`, `value`), in first-seen order. An array, an empty object and null are
 * leaves; at most `maxColumns` paths are listed.
 */
export function recordColumns(from: { header?: readonly string[]; records: readonly SourceRecord[] }, maxColumns = MAX_RECORD_COLUMNS): string[] {
  if (from.header) return [...from.header];
  const seen = new Set<string>();
  const visit = (value: Record<string, unknown>, prefix: string): void => {
    for (const [key, member] of Object.entries(value)) {
      if (seen.size >= maxColumns) return;
      const path = prefix ? `${prefix}.${key}` : key;
      if (isObject(member) && Object.keys(member).length > 0) visit(member, path);
      else seen.add(path);
    }
  };
  for (const record of from.records) {
    if (seen.size >= maxColumns) break;
    if (!Array.isArray(record.values)) visit(record.values, '');
  }
  return [...seen];
}

/**
 * The value at a dotted path in a record (`meta.id`), or undefined when there is none. A member whose name
 * holds dots is found too: `a.b` is the member `a.b` when the record has one, else `b` of `a`.
 */
export function valueAt(record: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(record, path)) return record[path];
  for (let dot = path.indexOf('.'); dot >= 0; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (!Object.hasOwn(record, head)) continue;
    const member = record[head];
    if (!isObject(member)) continue;
    const found = valueAt(member, path.slice(dot + 1));
    if (found !== undefined) return found;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
