import { DateTime } from 'luxon';
import { microsToIso, parseDecimal } from '@sluice/formats';
import type { AmbiguousPolicy } from '../contract';
import { type ColumnValue, type ValueProblem, problem, quoted } from './column-value';
import { type WallTime, localToUtc, wallAsUtc } from './local-to-utc';

/**
 * timestamptz and date values in a column's formats, tried in order. A timestamp becomes
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ`: UTC with microseconds, PostgreSQL's own precision, so nothing a file holds
 * is rounded away. A date becomes `YYYY-MM-DD`. Years 1 to 9999 only, as that is what these texts can say.
 */

export interface TimeColumn {
  /** The column as messages name it. */
  source: string;
  formats: readonly string[];
  /** Zone of naive local times (the column's, else the contract's); none means a naive time is refused. */
  zone: string | undefined;
  ambiguous: AmbiguousPolicy;
}

/** Formats used when a column names none. */
export const DEFAULT_TIME_FORMATS: readonly string[] = ['iso'];

/** Luxon parses in one fixed locale, whatever the machine's, so month names are English. */
const LOCALE = 'en-US';
const MIN_MS = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const SAMPLE = DateTime.fromObject({ year: 2024, month: 3, day: 31, hour: 14, minute: 30 }, { zone: 'Europe/Berlin' });

/** One format's reading of a text: µs since the epoch, a problem, or null when the text is not in that format. */
type InstantReader = (text: string) => number | ValueProblem | null;

/** One format's reading of a date text: `YYYY-MM-DD`, or null when the text is not in that format. */
type DateReader = (text: string) => string | null;

// ---- timestamptz --------------------------------------------------------------------------------------------

/** `2024-03-31`, `2024-03-31T14:30`, `2024-03-31 14:30:00.123456+02:00`, `…Z`, `…+0200`, `…-05`. */
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)? ?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** Reads a timestamptz column's text (already trimmed, not empty) into COPY text. */
export function timestampParser(column: TimeColumn): (text: string) => ColumnValue {
  const readers = column.formats.map((format) => instantReader(format, column));
  const expected = expectedFormats(column.formats, 'timestamp');
  // Rows of many series at one time follow each other (every sensor's reading of a minute): the last value read
  // is kept, and the same text again costs a comparison.
  let lastText: string | null = null;
  let lastValue: ColumnValue = problem('invalid_timestamp', '');
  const parse = (text: string): ColumnValue => {
    for (const read of readers) {
      const outcome = read(text);
      if (outcome === null) continue;
      return typeof outcome === 'number' ? { ok: true, text: microsToIso(outcome) } : outcome;
    }
    return problem('invalid_timestamp', `${column.source} ${quoted(text)} is not a timestamp in ${expected}`);
  };
  return (text) => {
    if (text !== lastText) {
      lastValue = parse(text);
      lastText = text;
    }
    return lastValue;
  };
}

function instantReader(format: string, column: TimeColumn): InstantReader {
  switch (format) {
    case 'iso':
      return (text) => readIso(text, column);
    case 'epoch_s':
      return (text) => readEpoch(text, 1_000_000, column.source);
    case 'epoch_ms':
      return (text) => readEpoch(text, 1_000, column.source);
    default:
      return luxonInstantReader(format, column);
  }
}

function readIso(text: string, column: TimeColumn): number | ValueProblem | null {
  const m = ISO_TIMESTAMP.exec(text);
  if (m === null) return null;
  const wall: WallTime = {
    year: +m[1],
    month: +m[2],
    day: +m[3],
    hour: m[4] === undefined ? 0 : +m[4],
    minute: m[5] === undefined ? 0 : +m[5],
    second: m[6] === undefined ? 0 : +m[6],
    millisecond: 0,
  };
  if (!isCalendarTime(wall)) {
    return problem('invalid_timestamp', `${column.source} ${quoted(text)} names a day or time no calendar has`);
  }
  // The fraction as µs (9 digits allowed, rounded like PostgreSQL); added after the zone is applied.
  const micros = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1e6);
  const offset = m[8];
  let ms: number;
  if (offset !== undefined) {
    const offsetMinutes = parseOffset(offset);
    if (offsetMinutes === null) {
      return problem('invalid_timestamp', `${column.source} ${quoted(text)} has an offset beyond ±15:59`);
    }
    ms = wallAsUtc(wall) - offsetMinutes * 60_000;
  } else {
    const utc = naiveToUtc(wall, text, column);
    if (typeof utc !== 'number') return utc;
    ms = utc;
  }
  return inRange(ms * 1000 + micros, text, column.source);
}

/** `Z` → 0, `+02:00` / `+0200` / `+02` → 120, in minutes; null when out of any zone's range. */
function parseOffset(offset: string): number | null {
  if (offset === 'Z' || offset === 'z') return 0;
  const digits = offset.slice(1).replace(':', '');
  const hours = +digits.slice(0, 2);
  const minutes = digits.length > 2 ? +digits.slice(2, 4) : 0;
  if (hours > 15 || minutes > 59) return null;
  return (offset[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function readEpoch(text: string, microsPerUnit: number, source: string): number | ValueProblem | null {
  const units = parseDecimal(text);
  if (units !== units) return null;
  return inRange(Math.round(units * microsPerUnit), text, source);
}

/**
 * A Luxon format (`dd.MM.yyyy HH:mm`), compiled once. With an offset token (`ZZ`, `z`) the text names its
 * instant; so it does with a quoted `'Z'` or `'UTC'` (`yyyy-MM-dd'T'HH:mm:ss'Z'`): a literal to Luxon, but
 * written to say UTC, and read in the contract's zone it would be hours off.
 */
function luxonInstantReader(format: string, column: TimeColumn): InstantReader {
  const parser = DateTime.buildFormatParser(format, { locale: LOCALE });
  const namesOffset = namesInstant(format);
  return (text) => {
    const parsed = DateTime.fromFormatParser(text, parser, { zone: 'UTC', locale: LOCALE });
    if (!parsed.isValid) return null;
    if (namesOffset) return inRange(parsed.toMillis() * 1000, text, column.source);
    // Read in UTC, the fields are the wall time exactly as written; the zone is applied by localToUtc.
    const wall: WallTime = {
      year: parsed.year,
      month: parsed.month,
      day: parsed.day,
      hour: parsed.hour,
      minute: parsed.minute,
      second: parsed.second,
      millisecond: parsed.millisecond,
    };
    if (wall.year < 1 || wall.year > 9999) return outOfYears(text, column.source);
    const utc = naiveToUtc(wall, text, column);
    return typeof utc === 'number' ? inRange(utc * 1000, text, column.source) : utc;
  };
}

function naiveToUtc(wall: WallTime, text: string, column: TimeColumn): number | ValueProblem {
  if (column.zone === undefined) {
    return problem(
      'invalid_timestamp',
      `${column.source} ${quoted(text)} has no offset and the contract names no timezone; ` +
        'write the offset in the value (+02:00, Z) or set timezone on the contract or the column',
    );
  }
  const utc = localToUtc(wall, column.zone, column.ambiguous);
  return utc.ok ? utc.epochMs : problem(utc.rule, `${column.source} ${quoted(text)}: ${utc.message}`);
}

function inRange(micros: number, text: string, source: string): number | ValueProblem {
  return micros >= MIN_MS * 1000 && micros <= MAX_MS * 1000 + 999 ? micros : outOfYears(text, source);
}

function outOfYears(text: string, source: string): ValueProblem {
  return problem('invalid_timestamp', `${source} ${quoted(text)} is outside the years 1 to 9999`);
}

// ---- date ---------------------------------------------------------------------------------------------------

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Reads a date column's text (already trimmed, not empty) into COPY text. */
export function dateParser(column: TimeColumn): (text: string) => ColumnValue {
  const readers = column.formats.map((format) => dateReader(format, column.zone ?? 'UTC'));
  const expected = expectedFormats(column.formats, 'date');
  return (text) => {
    for (const read of readers) {
      const date = read(text);
      if (date !== null) return { ok: true, text: date };
    }
    return problem('invalid_date', `${column.source} ${quoted(text)} is not a date in ${expected}`);
  };
}

/** Epoch formats give an instant: its date is the one in the column's zone (UTC when it names none). */
function dateReader(format: string, zone: string): DateReader {
  switch (format) {
    case 'iso':
      return (text) => {
        const m = ISO_DATE.exec(text);
        if (m === null) return null;
        const wall = { year: +m[1], month: +m[2], day: +m[3], hour: 0, minute: 0, second: 0, millisecond: 0 };
        return isCalendarTime(wall) ? text : null;
      };
    case 'epoch_s':
      return (text) => epochDate(parseDecimal(text) * 1000, zone);
    case 'epoch_ms':
      return (text) => epochDate(parseDecimal(text), zone);
    default: {
      const parser = DateTime.buildFormatParser(format, { locale: LOCALE });
      return (text) => {
        const parsed = DateTime.fromFormatParser(text, parser, { zone: 'UTC', locale: LOCALE });
        return parsed.isValid && parsed.year >= 1 && parsed.year <= 9999 ? parsed.toISODate() : null;
      };
    }
  }
}

function epochDate(ms: number, zone: string): string | null {
  if (!(ms >= MIN_MS && ms <= MAX_MS)) return null; // NaN too
  return DateTime.fromMillis(Math.floor(ms), { zone }).toISODate();
}

// ---- shared -------------------------------------------------------------------------------------------------

/** Whether the format names an offset or zone (Luxon's `Z`…`ZZZZZ`, `z`), or UTC by a quoted `'Z'`, `'UTC'`, `'GMT'`. */
function namesInstant(format: string): boolean {
  return DateTime.fromFormatExplain('', format, { locale: LOCALE }).tokens.some((t) =>
    t.literal ? /^\s*(?:Z|UTC|GMT)\s*$/.test(t.val) : /^(?:Z{1,5}|z)$/.test(t.val),
  );
}

function expectedFormats(formats: readonly string[], kind: 'timestamp' | 'date'): string {
  const described = formats.map((format) => describeFormat(format, kind));
  return described.length === 1 ? `its format, ${described[0]}` : `any of its formats: ${described.join('; ')}`;
}

function describeFormat(format: string, kind: 'timestamp' | 'date'): string {
  switch (format) {
    case 'iso':
      return kind === 'date' ? 'ISO 8601 (such as 2024-03-31)' : 'ISO 8601 (such as 2024-03-31T14:30:00+02:00)';
    case 'epoch_s':
      return 'epoch seconds (such as 1711888200)';
    case 'epoch_ms':
      return 'epoch milliseconds (such as 1711888200000)';
    default:
      return `"${format}" (such as ${SAMPLE.toFormat(format, { locale: LOCALE })})`;
  }
}

function isCalendarTime(w: WallTime): boolean {
  if (w.year < 1 || w.month < 1 || w.month > 12 || w.day < 1) return false;
  const leap = w.month === 2 && w.year % 4 === 0 && (w.year % 100 !== 0 || w.year % 400 === 0);
  return w.day <= DAYS_IN_MONTH[w.month - 1] + (leap ? 1 : 0) && w.hour <= 23 && w.minute <= 59 && w.second <= 59;
}

