import type { ColumnType } from '@sluice/datasets';
import { ApiException } from '@sluice/http';
import { TS_US } from '../http/cursor.util';
import { decodeKeyset, encodeKeyset } from '../vehicles/keyset-cursor.util';

/** A key of long text values still fits a cursor; the URL stays far below what servers accept (16 KB and more). */
const MAX_CURSOR_CHARS = 8000;
const INT_RANGE = [-(2n ** 31n), 2n ** 31n - 1n] as const;
const BIGINT_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;

const inRange = (v: string, [min, max]: readonly [bigint, bigint]) => /^-?\d{1,19}$/.test(v) && BigInt(v) >= min && BigInt(v) <= max;
const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v);

/**
 * What a key value in a cursor must look like for each column type: exactly what the page rendered, so PostgreSQL
 * can always cast it back. A cursor someone edited is refused here (400), never by a failing cast (500).
 */
const VALID: Record<ColumnType, (v: string) => boolean> = {
  text: (v) => !v.includes('\u0000'),
  int: (v) => inRange(v, INT_RANGE),
  bigint: (v) => inRange(v, BIGINT_RANGE),
  float: (v) => /^-?(\d+(\.\d+)?(e[+-]?\d+)?|Infinity)$|^NaN$/.test(v),
  numeric: (v) => /^-?\d{1,1000}(\.\d{1,1000})?$|^NaN$/.test(v),
  bool: (v) => v === 'true' || v === 'false',
  // Date.parse takes 30 February; the calendar check does not.
  timestamptz: (v) => TS_US.test(v) && isDate(v.slice(0, 10)) && !Number.isNaN(Date.parse(v)),
  date: isDate,
  jsonb: (v) => {
    try {
      JSON.parse(v);
      return true;
    } catch {
      return false;
    }
  },
};

/** A key value of a page's row as cursor text: the form PostgreSQL reads back as the same value. */
export function cursorValue(value: unknown): string {
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The cursor after the row whose key values (in key order) are `values`. */
export function encodeDatasetCursor(values: readonly unknown[]): string {
  return encodeKeyset(values.map(cursorValue));
}

/** The key values of a cursor of a dataset whose key columns have `types`, or a 400 naming `cursor`. */
export function decodeDatasetCursor(cursor: string, types: readonly ColumnType[]): string[] {
  const values = decodeKeyset(cursor, types.map(() => 'text'), 'cursor', MAX_CURSOR_CHARS);
  if (values.some((v, i) => !VALID[types[i]](v))) throw ApiException.invalidParameter('cursor', 'is not a cursor issued by this API');
  return values;
}
