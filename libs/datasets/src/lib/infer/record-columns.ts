import type { SampledColumn } from './sniff-csv';

/** Records looked at, and columns and nesting depth followed, when sampling JSON. */
export const MAX_SAMPLE_RECORDS = 10_000;
export const MAX_SAMPLE_COLUMNS = 10_000;
/** Objects nested deeper than this are one jsonb value rather than more columns. */
export const MAX_RECORD_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The columns of JSON records: each leaf of nested objects is a column named by its dotted path (`meta.id`), in the
 * order paths first appear; arrays are values (jsonb). Sample `i` of every column is from record `i` (undefined when
 * the record lacks the path). Records that are not objects are left out.
 */
export function recordSampleColumns(records: unknown[]): SampledColumn[] {
  const objects = records.slice(0, MAX_SAMPLE_RECORDS).filter(isPlainObject);
  const columns = new Map<string, unknown[]>();
  const visit = (value: Record<string, unknown>, prefix: string, depth: number, row: number): void => {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (isPlainObject(child) && depth < MAX_RECORD_DEPTH && Object.keys(child).length > 0) {
        visit(child, path, depth + 1, row);
        continue;
      }
      let samples = columns.get(path);
      if (!samples) {
        if (columns.size >= MAX_SAMPLE_COLUMNS) {
          throw new Error(`The records have more than ${MAX_SAMPLE_COLUMNS} distinct fields; a contract this wide is not supported.`);
        }
        samples = new Array<unknown>(objects.length).fill(undefined);
        columns.set(path, samples);
      }
      samples[row] = child;
    }
  };
  objects.forEach((record, row) => visit(record, '', 1, row));
  return [...columns].map(([source, samples]) => ({ source, samples }));
}

/**
 * Where the records are in a JSON document: `''` when it is an array, else the dotted path of the first array of
 * objects found breadth-first (`data.readings`), or null when there is none.
 */
export function findRecordsPath(document: unknown): string | null {
  if (Array.isArray(document)) return '';
  let level: [string, unknown][] = isPlainObject(document) ? Object.entries(document) : [];
  for (let depth = 1; depth <= MAX_RECORD_DEPTH && level.length > 0; depth++) {
    const array = level.find(([, value]) => Array.isArray(value) && value.some(isPlainObject));
    if (array) return array[0];
    level = level.flatMap(([path, value]) =>
      isPlainObject(value) ? Object.entries(value).map(([key, child]): [string, unknown] => [`${path}.${key}`, child]) : [],
    );
  }
  return null;
}
