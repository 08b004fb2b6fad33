import { DateTime } from 'luxon';
import type { ColumnType } from '../contract';

/**
 * How one sampled value reads as each column type. Inference (infer-column.ts) and drift (column-diff.ts) both ask
 * here, so a type chosen for a sample is exactly a type its values fit.
 */

/** How numbers are written: with `decimalComma`, `1.234,5` is 1234.5 (the `.` groups thousands). */
export interface ValueOptions {
  decimalComma?: boolean;
}

/** Words a bool column takes (compared case-insensitively). Not 0/1: those are numbers more often than flags. */
export const BOOL_WORDS: Readonly<Record<string, boolean>> = { true: true, false: false, yes: true, no: false };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const POINT_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const COMMA_NUMBER = /^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$/;
const INTEGER_TEXT = /^[+-]?\d+$/;

/** Null, undefined and blank text: a missing value, which fits every type (it is `required`'s business). */
export function isEmptyValue(value: unknown): boolean {
  return value == null || (typeof value === 'string' && value.trim() === '');
}

/** A scalar as the text a CSV would hold; objects and arrays as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** The number a value writes in plain JS notation (`-1234.5`), or null when it is not a number. */
export function numberText(value: unknown, options: ValueOptions = {}): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (options.decimalComma) return COMMA_NUMBER.test(text) ? text.replace(/\./g, '').replace(',', '.') : null;
  return POINT_NUMBER.test(text) ? text : null;
}

function integerValue(value: unknown, options: ValueOptions): bigint | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : null;
  const text = numberText(value, options);
  return text !== null && INTEGER_TEXT.test(text) ? BigInt(text) : null;
}

/** `007`, `0421`: an integer written with leading zeros is a code (a postcode, an id), kept as text by inference. */
export function hasLeadingZero(value: unknown): boolean {
  return typeof value === 'string' && /^[+-]?0\d/.test(value.trim());
}

/** A JSON object or array, or text holding one (a CSV cell may carry JSON). */
function isJsonStructure(value: unknown): boolean {
  if (typeof value === 'object' && value !== null) return true;
  if (typeof value !== 'string') return false;
  const text = value.trim();
  if (!/^[[{]/.test(text)) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

/** An offset at the end of an ISO value (`Z`, `+01:00`, `+0100`, `+01`). */
const ISO_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether a Luxon format string reads an offset (`Z`, `ZZ`, `ZZZ` outside quoted text). */
export function formatHasOffset(format: string): boolean {
  return /Z/.test(format.replace(/'[^']*'/g, ''));
}

/** Luxon's parser of a format, built once: building it is most of the cost of reading a value. */
const formatParsers = new Map<string, ReturnType<typeof DateTime.buildFormatParser>>();
const MAX_CACHED_PARSERS = 256;
/** A parser only reads values with the locale it was built for; fixed, so Luxon's default locale cannot differ. */
const PARSE_LOCALE = 'en-US';

function formatParser(format: string): ReturnType<typeof DateTime.buildFormatParser> {
  let parser = formatParsers.get(format);
  if (!parser) {
    if (formatParsers.size >= MAX_CACHED_PARSERS) formatParsers.clear();
    parser = DateTime.buildFormatParser(format, { locale: PARSE_LOCALE });
    formatParsers.set(format, parser);
  }
  return parser;
}

/**
 * Whether `value` reads with one timestamp or date format of a contract: `iso`, `epoch_s`, `epoch_ms` or Luxon
 * tokens. Local times are read in UTC here: a time the clock change skips still has the right shape.
 */
export function parsesWithFormat(format: string, value: unknown, type: 'timestamptz' | 'date'): boolean {
  if (format === 'epoch_s' || format === 'epoch_ms') return type === 'timestamptz' && numberText(value) !== null;
  if (typeof value !== 'string') return false;
  const text = value.trim();
  if (format === 'iso') {
    if (type === 'date') return ISO_DATE.test(text) && DateTime.fromISO(text, { zone: 'utc' }).isValid;
    return ISO_TIMESTAMP.test(text) && DateTime.fromISO(text, { zone: 'utc', setZone: true }).isValid;
  }
  // Every date has digits; text without any is rejected before Luxon's comparatively slow parse.
  if (!/\d/.test(text)) return false;
  return DateTime.fromFormatParser(text, formatParser(format), { zone: 'utc', setZone: true, locale: PARSE_LOCALE }).isValid;
}

/** Whether an ISO timestamp value names no offset: a local time that needs the contract's timezone. */
export function isNaiveIsoValue(value: unknown): boolean {
  return typeof value === 'string' && !ISO_OFFSET.test(value.trim());
}

/**
 * Whether a value loads into a column of `type`. Empty values fit every type. For timestamptz and date the
 * column's `formats` decide (default `iso`, as in a contract file).
 */
export function fits(type: ColumnType, value: unknown, options: ValueOptions & { formats?: string[] } = {}): boolean {
  if (isEmptyValue(value)) return true;
  switch (type) {
    case 'text':
      return typeof value !== 'object';
    case 'bool':
      return typeof value === 'boolean' || (typeof value === 'string' && value.trim().toLowerCase() in BOOL_WORDS);
    case 'int': {
      const n = integerValue(value, options);
      return n !== null && n >= INT32_MIN && n <= INT32_MAX;
    }
    case 'bigint': {
      const n = integerValue(value, options);
      return n !== null && n >= INT64_MIN && n <= INT64_MAX;
    }
    case 'float':
    case 'numeric': {
      const text = numberText(value, options);
      return text !== null && Number.isFinite(Number(text));
    }
    case 'timestamptz':
    case 'date':
      return (options.formats ?? ['iso']).some((format) => parsesWithFormat(format, value, type));
    case 'jsonb':
      return isJsonStructure(value);
  }
}
