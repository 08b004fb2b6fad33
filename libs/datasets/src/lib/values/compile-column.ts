import { charLength } from '@sluice/formats';
import type { ContractColumn } from '../contract';
import {
  type ColumnContext,
  type ColumnValue,
  type ColumnValueParser,
  NULL_VALUE,
  copyText,
  problem,
  quoted,
} from './column-value';
import { timestampFormatProblem, timeZoneProblem } from '../read/timestamp-formats';
import { NUMBER_TEXT_MAX, compareDecimal, decimalParts, decimalText, integerText, isNonZero, significantDigits } from './numbers';
import { DEFAULT_TIME_FORMATS, type TimeColumn, dateParser, timestampParser } from './times';

const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;
const BIGINT_MIN = -(2n ** 63n);
const BIGINT_MAX = 2n ** 63n - 1n;
/** Most digits of a numeric value: PostgreSQL takes more, but the bound keeps the work per value small. */
export const NUMERIC_DIGITS_MAX = 1000;
/** PostgreSQL's own limit on a numeric's exponent (`1e1001` is refused by it). */
const NUMERIC_EXPONENT_MAX = 1000;
/** Values an enum message lists before it says how many there are. */
const ENUM_LISTED = 10;

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1', 'on']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0', 'off']);

/** Reads a value that is not missing (not undefined, null or ''). */
type PresentValueReader = (raw: unknown) => ColumnValue;

/**
 * Compiles a column of a contract into the function that turns each of its raw fields into COPY text: its
 * regular expression, zone and formats are prepared here once, so the function itself only reads the value.
 * A missing value (absent, null or an empty string; for types other than text, also only spaces) is a
 * `missing_value` row error when the column is required, otherwise NULL.
 *
 * Throws, with a sentence naming the column, when the column itself cannot be used (an unknown zone, a time
 * format Luxon cannot parse, a pattern that is no regular expression): the contract is wrong, not a row.
 */
export function compileColumn(column: ContractColumn, ctx: ColumnContext): ColumnValueParser {
  const absent = missing(column, 'is missing');
  const isNull = missing(column, 'is null');
  const empty = missing(column, 'is empty');
  const read = presentValueReader(column, ctx, empty);
  return (raw) => {
    if (raw === undefined) return absent;
    if (raw === null) return isNull;
    if (raw === '') return empty;
    return read(raw);
  };
}

function missing(column: ContractColumn, what: string): ColumnValue {
  if (!column.required) return NULL_VALUE;
  return Object.freeze(problem('missing_value', `${column.source} ${what}; the contract requires a value`));
}

function presentValueReader(column: ContractColumn, ctx: ColumnContext, empty: ColumnValue): PresentValueReader {
  switch (column.type) {
    case 'text':
      return textReader(column);
    case 'int':
      return trimmed(empty, column, 'not_a_number', intReader(column, ctx));
    case 'bigint':
      return trimmed(empty, column, 'not_a_number', bigintReader(column, ctx));
    case 'float':
      return trimmed(empty, column, 'not_a_number', floatReader(column, ctx));
    case 'numeric':
      return trimmed(empty, column, 'not_a_number', numericReader(column, ctx));
    case 'bool':
      return trimmed(empty, column, 'invalid_bool', boolReader(column));
    case 'timestamptz':
      return trimmed(empty, column, 'invalid_timestamp', timestampParser(timeColumn(column, ctx)));
    case 'date':
      return trimmed(empty, column, 'invalid_date', dateParser(timeColumn(column, ctx)));
    case 'jsonb':
      return jsonbReader(column, ctx);
  }
}

type ScalarRule = 'not_a_number' | 'invalid_bool' | 'invalid_timestamp' | 'invalid_date';

const EXPECTED: Record<ScalarRule, string> = {
  not_a_number: 'a number',
  invalid_bool: 'a boolean',
  invalid_timestamp: 'a timestamp',
  invalid_date: 'a date',
};

/**
 * Values that are not text are read from their trimmed text; a JSON number is read from its text too, and a
 * JSON boolean goes to the reader as it is. Only spaces is missing, as an empty field is; a JSON object or
 * array is refused with the column's `rule`.
 */
function trimmed(
  empty: ColumnValue,
  column: ContractColumn,
  rule: ScalarRule,
  read: (text: string, raw: unknown) => ColumnValue,
): PresentValueReader {
  return (raw) => {
    if (typeof raw === 'string') {
      const text = raw.trim();
      return text === '' ? empty : read(text, raw);
    }
    if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean') return read(String(raw), raw);
    const kind = Array.isArray(raw) ? 'a JSON array' : 'a JSON object';
    return problem(rule, `${column.source} ${quoted(shown(raw))} is ${kind}, not ${EXPECTED[rule]}`);
  };
}

/** A raw value as a message shows it. */
function shown(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'bigint') return raw.toString();
  return JSON.stringify(raw) ?? String(raw);
}

// ---- text ---------------------------------------------------------------------------------------------------

function textReader(column: ContractColumn): PresentValueReader {
  const { source, maxLength } = column;
  const allowed = column.enum === undefined ? null : new Set(column.enum.map((v) => v.trim()));
  const allowedList = column.enum === undefined ? '' : listAllowed(column.enum);
  const pattern = column.pattern === undefined ? null : wholeValuePattern(column);
  return (raw) => {
    let text = typeof raw === 'string' ? raw : shown(raw);
    if (allowed !== null) {
      text = text.trim();
      if (!allowed.has(text)) return problem('not_in_enum', `${source} ${quoted(text)} is not one of ${allowedList}`);
    }
    if (maxLength !== undefined && text.length > maxLength) {
      const n = charLength(text); // a surrogate pair is one character, as PostgreSQL counts
      if (n > maxLength) {
        return problem('too_long', `${source} ${quoted(text)} is ${n} characters long; the contract allows at most ${maxLength}`);
      }
    }
    if (pattern !== null && !pattern.test(text)) {
      return problem('pattern_mismatch', `${source} ${quoted(text)} does not match the pattern ${column.pattern}`);
    }
    return { ok: true, text: copyText(text) };
  };
}

/**
 * The column's pattern, matched against the whole value: wrapped in `^(?:…)$` whatever anchors it has, so an
 * alternation (`a|b`) stays inside the anchors and a pattern already anchored means the same.
 */
function wholeValuePattern(column: ContractColumn): RegExp {
  try {
    return new RegExp(`^(?:${column.pattern})$`);
  } catch (e) {
    throw new Error(`column ${column.source}: the pattern ${column.pattern} is not a regular expression (${(e as Error).message})`);
  }
}

function listAllowed(values: string[]): string {
  const listed = values.slice(0, ENUM_LISTED).map((v) => quoted(v.trim())).join(', ');
  return values.length > ENUM_LISTED ? `${listed}, … (${values.length} values)` : listed;
}

// ---- numbers ------------------------------------------------------------------------------------------------

function intReader(column: ContractColumn, ctx: ColumnContext): (text: string, raw: unknown) => ColumnValue {
  const numbers = numberMessages(column, ctx);
  const bounds = bounded(column, numbers);
  return (text, raw) => {
    if (typeof raw === 'boolean') return numbers.notANumber(text);
    if (typeof raw === 'number') {
      if (!Number.isInteger(raw)) return numbers.notWhole(text);
      if (raw < INT_MIN || raw > INT_MAX) return numbers.beyondType(text, 'int', INT_MIN, INT_MAX);
      return bounds(raw, text) ?? { ok: true, text };
    }
    const integer = integerText(text, numbers.decimalComma);
    if (integer === null) return numbers.notAnInteger(text);
    const value = significantDigits(integer) > 10 ? Infinity : Number(integer);
    if (!(value >= INT_MIN && value <= INT_MAX)) return numbers.beyondType(text, 'int', INT_MIN, INT_MAX);
    return bounds(value, text) ?? { ok: true, text: String(value) };
  };
}

/** int8 through BigInt from the text, never through a float, so every digit of 2^63 − 1 is kept. */
function bigintReader(column: ContractColumn, ctx: ColumnContext): (text: string, raw: unknown) => ColumnValue {
  const numbers = numberMessages(column, ctx);
  const bounds = bounded(column, numbers);
  return (text, raw) => {
    if (typeof raw === 'boolean') return numbers.notANumber(text);
    let value: bigint;
    if (typeof raw === 'number') {
      if (!Number.isInteger(raw)) return numbers.notWhole(text);
      if (!Number.isSafeInteger(raw)) {
        return problem(
          'out_of_range',
          `${column.source} ${text} is a JSON number beyond ±2^53, which loses digits before Sluice can read it; ` +
            'write it as a JSON string ("9007199254740993")',
        );
      }
      value = BigInt(raw);
    } else {
      const integer = integerText(text, numbers.decimalComma);
      if (integer === null) return numbers.notAnInteger(text);
      if (significantDigits(integer) > 19) return numbers.beyondType(text, 'bigint', BIGINT_MIN, BIGINT_MAX);
      value = BigInt(integer);
    }
    if (value < BIGINT_MIN || value > BIGINT_MAX) return numbers.beyondType(text, 'bigint', BIGINT_MIN, BIGINT_MAX);
    return bounds(value, text) ?? { ok: true, text: value.toString() };
  };
}

/** float8: any finite double; one too small to be anything but zero is refused, as PostgreSQL would. */
function floatReader(column: ContractColumn, ctx: ColumnContext): (text: string, raw: unknown) => ColumnValue {
  const numbers = numberMessages(column, ctx);
  const bounds = bounded(column, numbers);
  return (text, raw) => {
    if (typeof raw === 'boolean') return numbers.notANumber(text);
    let value: number;
    if (typeof raw === 'number') value = raw;
    else {
      const parts = decimalParts(text, typeof raw === 'string' && numbers.decimalComma);
      if (parts === null) return numbers.notANumber(text);
      value = Number(decimalText(parts));
      if (!Number.isFinite(value)) return problem('out_of_range', `${column.source} ${quoted(text)} is beyond ±1.8e308, the range of float`);
      if (value === 0 && isNonZero(parts)) {
        return problem('out_of_range', `${column.source} ${quoted(text)} is too near zero for a float (below 4.9e-324)`);
      }
    }
    return bounds(value, text) ?? { ok: true, text: String(value) };
  };
}

/** numeric: the decimal text itself, never a float, so every digit and the scale (`1.50`) reach PostgreSQL. */
function numericReader(column: ContractColumn, ctx: ColumnContext): (text: string, raw: unknown) => ColumnValue {
  const numbers = numberMessages(column, ctx);
  const { min, max, source } = column;
  const tooManyDigits = (text: string) =>
    problem('out_of_range', `${source} ${quoted(text)} has more than ${NUMERIC_DIGITS_MAX} digits, the most a numeric value may have`);
  return (text, raw) => {
    if (typeof raw === 'boolean') return numbers.notANumber(text);
    if (text.length > NUMBER_TEXT_MAX) return tooManyDigits(text);
    // A JSON number's text always has a decimal point, whatever the CSV setting.
    const parts = decimalParts(text, typeof raw === 'string' && numbers.decimalComma);
    if (parts === null) return numbers.notANumber(text);
    if (parts.int.length + parts.frac.length > NUMERIC_DIGITS_MAX) return tooManyDigits(text);
    if (Math.abs(parts.exp) > NUMERIC_EXPONENT_MAX) {
      return problem('out_of_range', `${source} ${quoted(text)} has an exponent beyond ±${NUMERIC_EXPONENT_MAX}, more than a numeric takes`);
    }
    if (min !== undefined && compareDecimal(parts, min) < 0) return numbers.belowMin(text);
    if (max !== undefined && compareDecimal(parts, max) > 0) return numbers.aboveMax(text);
    return { ok: true, text: decimalText(parts) };
  };
}

type NumberMessages = ReturnType<typeof numberMessages>;

function numberMessages(column: ContractColumn, ctx: ColumnContext) {
  const { source, min, max } = column;
  const decimalComma = ctx.decimalComma;
  const notation = decimalComma ? ' (this file writes numbers with a decimal comma, such as 1.234,5)' : '';
  return {
    decimalComma,
    notANumber: (text: string) => problem('not_a_number', `${source} ${quoted(text)} is not a number${notation}`),
    notWhole: (text: string) => problem('not_a_number', `${source} ${quoted(text)} is not a whole number`),
    /** Text that is no integer: a decimal is "not a whole number", anything else "not a number". */
    notAnInteger: (text: string) =>
      decimalParts(text, decimalComma) === null
        ? problem('not_a_number', `${source} ${quoted(text)} is not a number${notation}`)
        : problem('not_a_number', `${source} ${quoted(text)} is not a whole number`),
    beyondType: (text: string, type: string, lo: number | bigint, hi: number | bigint) =>
      problem('out_of_range', `${source} ${quoted(text)} is beyond the range of ${type}, ${lo} to ${hi}`),
    belowMin: (text: string) => problem('out_of_range', `${source} ${quoted(text)} is below the contract's min ${min}`),
    aboveMax: (text: string) => problem('out_of_range', `${source} ${quoted(text)} is above the contract's max ${max}`),
  };
}

/** The contract's inclusive min and max; number and bigint compare exactly with each other. */
function bounded(column: ContractColumn, numbers: NumberMessages): (value: number | bigint, text: string) => ColumnValue | null {
  const { min, max } = column;
  if (min === undefined && max === undefined) return () => null;
  return (value, text) => {
    if (min !== undefined && value < min) return numbers.belowMin(text);
    if (max !== undefined && value > max) return numbers.aboveMax(text);
    return null;
  };
}

// ---- bool ---------------------------------------------------------------------------------------------------

function boolReader(column: ContractColumn): (text: string, raw: unknown) => ColumnValue {
  const t: ColumnValue = Object.freeze({ ok: true, text: 't' });
  const f: ColumnValue = Object.freeze({ ok: true, text: 'f' });
  return (text, raw) => {
    if (typeof raw === 'boolean') return raw ? t : f;
    const word = text.toLowerCase();
    if (TRUE_WORDS.has(word)) return t;
    if (FALSE_WORDS.has(word)) return f;
    return problem(
      'invalid_bool',
      `${column.source} ${quoted(text)} is not a boolean; write true/false, t/f, yes/no, y/n, 1/0 or on/off`,
    );
  };
}

// ---- time ---------------------------------------------------------------------------------------------------

function timeColumn(column: ContractColumn, ctx: ColumnContext): TimeColumn {
  const zone = column.timezone ?? ctx.timezone;
  const badZone = zone === undefined ? null : timeZoneProblem(zone, 'the time zone');
  if (badZone !== null) throw new Error(`column ${column.source}: ${badZone}`);
  const formats = column.formats === undefined || column.formats.length === 0 ? DEFAULT_TIME_FORMATS : column.formats;
  for (const format of formats) {
    const wrong = timestampFormatProblem(format, 'the time format');
    if (wrong !== null) throw new Error(`column ${column.source}: ${wrong}`);
  }
  return { source: column.source, formats, zone, ambiguous: column.ambiguous };
}

// ---- jsonb --------------------------------------------------------------------------------------------------

/**
 * A CSV field must be JSON text, and is kept as written (PostgreSQL reads its numbers as numeric, so no digit
 * is lost); a value of a JSON record is written back as JSON, a string as a JSON string.
 */
function jsonbReader(column: ContractColumn, ctx: ColumnContext): PresentValueReader {
  const jsonSource = ctx.jsonSource === true;
  return (raw) => {
    let json: string;
    if (typeof raw === 'string' && !jsonSource) {
      try {
        JSON.parse(raw);
      } catch (e) {
        return problem('invalid_json', `${column.source} ${quoted(raw)} is not JSON: ${(e as Error).message}`);
      }
      json = raw;
    } else {
      json = typeof raw === 'bigint' ? raw.toString() : JSON.stringify(raw);
    }
    const unstorable = unstorableEscape(json);
    if (unstorable !== null) {
      return problem('invalid_json', `${column.source} ${quoted(json)} holds ${unstorable}, which PostgreSQL jsonb cannot store`);
    }
    return { ok: true, text: copyText(json) };
  };
}

/**
 * The escape in a JSON text jsonb refuses, or null: `\u0000`, or half of a surrogate pair. Escapes are read in
 * order, so an escaped backslash followed by `u0000` is not taken for one.
 */
function unstorableEscape(json: string): string | null {
  if (!json.includes('\\u')) return null;
  let highEnd = -1; // where an unpaired high surrogate escape ended
  for (const m of json.matchAll(/\\(?:u([0-9a-fA-F]{4})|.)/gs)) {
    const code = m[1] === undefined ? -1 : parseInt(m[1], 16);
    if (highEnd >= 0) {
      if (m.index !== highEnd || code < 0xdc00 || code > 0xdfff) return 'an unpaired surrogate escape (\\ud800-\\udbff)';
      highEnd = -1;
    } else if (code === 0) return 'the escape \\u0000';
    else if (code >= 0xd800 && code <= 0xdbff) highEnd = m.index + m[0].length;
    else if (code >= 0xdc00 && code <= 0xdfff) return 'an unpaired surrogate escape (\\udc00-\\udfff)';
  }
  return highEnd >= 0 ? 'an unpaired surrogate escape (\\ud800-\\udbff)' : null;
}
