import type { TextRule } from '../text/storable-text.util';
import { ZonedTime } from './zoned-time.util';

/** Valid range per metric name; structurally the same as `MetricRanges` of @sluice/config. */
export type ValueRanges = Record<string, { min: number; max: number }>;

/** One wide-CSV line: a timestamp, a device, and one value per metric column (aligned to `header.metrics`). */
export interface WideReading {
  line: number;
  /** Microseconds since the Unix epoch (integer). */
  tsMicros: number;
  device: string;
  values: number[];
}

/** One long-CSV line. `uuid` is lower-case. */
export interface LongReading {
  line: number;
  tsMicros: number;
  uuid: string;
  value: number;
}

/** One mapping-CSV line. `uuid` is lower-case. */
export interface MappingRow {
  line: number;
  uuid: string;
  name: string;
}

/** Rule codes of a refused line (SPEC §4.1). */
export type RowRule =
  | 'invalid_timestamp'
  | 'not_a_number'
  | 'out_of_range'
  | 'invalid_uuid'
  | 'missing_value'
  | 'wrong_field_count'
  | 'duplicate_sensor_name'
  | 'too_long'
  | 'late_beyond_retention'
  | TextRule;

export const RAW_CAP = 500;
export const VALUE_CAP = 100;

const MIN_MICROS = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
const MAX_MICROS = 253_402_300_799_999_000; // 9999-12-31T23:59:59.999Z (µs beyond are not representable exactly)

export function cap(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

/** A problem with one field: rule + message; `null` means the field is fine. */
export interface FieldProblem {
  rule: RowRule;
  message: string;
}

// ---- sensor names -------------------------------------------------------------------------------------------

/**
 * Longest sensor name, in characters (as PostgreSQL counts them), whatever the input names it: an NDJSON
 * `sensor`, a wide CSV's `<device>/<metric>`, a mapping CSV's `sensor_name`.
 */
export const SENSOR_NAME_MAX = 200;

/** Characters of `s` as PostgreSQL counts them (code points, a surrogate pair is one). */
export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
    else {
      const d = s.charCodeAt(i + 1);
      n++;
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

/** The one rule for sensor names: `too_long` past SENSOR_NAME_MAX characters (null when `name` fits); `what` says where the name comes from. */
export function sensorNameProblem(name: string, what = 'the sensor name'): FieldProblem | null {
  if (name.length <= SENSOR_NAME_MAX) return null;
  const n = charLength(name);
  if (n <= SENSOR_NAME_MAX) return null;
  return { rule: 'too_long', message: `${what} "${cap(name, 40)}…" is ${n} characters long; a sensor name may have at most ${SENSOR_NAME_MAX} (SENSOR_NAME_MAX)` };
}

// ---- values -------------------------------------------------------------------------------------------------

/**
 * Decimal number text → number, or NaN. Stricter than `Number()`: no empty string, no surrounding space,
 * no hex/binary/octal, no Infinity.
 */
export function parseDecimal(text: string): number {
  const n = text.length;
  if (n === 0) return NaN;
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(n - 1);
  // first: digit + - . ; last: digit or '.'
  if (!((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 46)) return NaN;
  if (!((last >= 48 && last <= 57) || last === 46)) return NaN;
  if (n > 1 && first === 48) {
    const second = text.charCodeAt(1) | 0x20;
    if (second === 0x78 || second === 0x62 || second === 0x6f) return NaN; // 0x 0b 0o
  }
  const v = +text;
  return v - v === 0 ? v : NaN; // finite check without a call
}

/** Wide-CSV value: a decimal number, or True/False (1/0). */
export function parseWideValue(text: string): number {
  const v = parseDecimal(text);
  if (v === v) return v;
  switch (text) {
    case 'True':
    case 'true':
    case 'TRUE':
      return 1;
    case 'False':
    case 'false':
    case 'FALSE':
      return 0;
    default:
      return NaN;
  }
}

export function valueProblem(text: string, column: string): FieldProblem {
  if (text.trim() === '') return { rule: 'not_a_number', message: `${column} is empty; expected a number` };
  return { rule: 'not_a_number', message: `${column} "${cap(text, VALUE_CAP)}" is not a finite number` };
}

/**
 * The largest magnitude of a stored value. Beyond it, a bucket's sum of squared deviations (count ×
 * spread², ≤ 9.2e18 × 4e200) or PostgreSQL's avg/var_pop over the raw rows could overflow float8 and turn
 * mean and std dev into NaN (or fail the load); far below it, statistics are computed as usual.
 */
export const MAX_ABS_VALUE = 1e100;

/** A finite value beyond ±MAX_ABS_VALUE: refused as out of range. */
export function magnitudeProblem(value: number, column: string): FieldProblem | null {
  if (value >= -MAX_ABS_VALUE && value <= MAX_ABS_VALUE) return null;
  return { rule: 'out_of_range', message: `${column} ${value} is beyond ±${MAX_ABS_VALUE}, the largest magnitude Sluice stores` };
}

export function rangeProblem(value: number, column: string, range: { min: number; max: number }): FieldProblem | null {
  if (value >= range.min && value <= range.max) return null;
  return { rule: 'out_of_range', message: `${column} ${value} is outside its valid range ${range.min}..${range.max} (METRIC_RANGES)` };
}

// ---- timestamps ---------------------------------------------------------------------------------------------

/** Epoch seconds as decimal text ("1.5945120943859746E9") → integer µs, or NaN. Rounds to µs like PostgreSQL. */
export function parseEpochSeconds(text: string): number {
  const s = parseDecimal(text);
  if (s !== s) return NaN;
  const us = Math.round(s * 1e6);
  return us >= MIN_MICROS && us <= MAX_MICROS ? us : NaN;
}

/** A wide CSV's timestamp: epoch seconds, else ISO-8601 (an offset, or wall time in `naive`'s zone) → µs, or NaN. */
export function parseWideTimestamp(text: string, naive: ZonedTime): number {
  const us = parseEpochSeconds(text);
  return us === us ? us : parseIsoTimestamp(text, naive);
}

export function epochProblem(text: string, column: string): FieldProblem {
  const expected = 'epoch seconds such as 1594512094.385 or ISO-8601 such as 2020-07-12T00:01:34Z';
  if (text.trim() === '') return { rule: 'invalid_timestamp', message: `${column} is empty; expected ${expected}` };
  return { rule: 'invalid_timestamp', message: `${column} "${cap(text, VALUE_CAP)}" is not a timestamp; expected ${expected}` };
}

/**
 * A number written with a decimal comma (`21,5`), as CSVs separated by `;` or tabs often are: read as `21.5`.
 * Only one comma and no point, so it cannot be a thousands separator; a file separated by `,` never gets here.
 */
export function parseDecimalComma(text: string): number {
  const comma = text.indexOf(',');
  if (comma < 0 || text.indexOf(',', comma + 1) >= 0 || text.includes('.')) return NaN;
  return parseDecimal(`${text.slice(0, comma)}.${text.slice(comma + 1)}`);
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * ISO-8601 date-time → integer µs since the epoch, or NaN. With an offset (`Z`, `+00:00`, `+0100`, `-05`) it
 * is exact; without one it is read as wall time in `naive`'s zone. Fractions beyond µs are rounded.
 */
export function parseIsoTimestamp(text: string, naive: ZonedTime): number {
  const m = ISO.exec(text);
  if (!m) return NaN;
  const y = +m[1], mo = +m[2], d = +m[3], h = +m[4], mi = +m[5], s = m[6] ? +m[6] : 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return NaN;
  const leap = mo === 2 && (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0));
  if (d > DAYS[mo - 1] + (leap ? 1 : 0)) return NaN;
  const frac = m[7] ? Math.round(+`0.${m[7]}` * 1e6) : 0;
  const wall = new Date(0);
  wall.setUTCFullYear(y, mo - 1, d);
  wall.setUTCHours(h, mi, s, 0);
  let ms = wall.getTime();
  const off = m[8];
  if (off === undefined) ms = naive.toUtc(ms);
  else if (off !== 'Z' && off !== 'z') {
    const sign = off[0] === '-' ? -1 : 1;
    const digits = off.slice(1).replace(':', '');
    const oh = +digits.slice(0, 2);
    const om = digits.length > 2 ? +digits.slice(2, 4) : 0;
    if (oh > 15 || om > 59) return NaN;
    ms -= sign * (oh * 60 + om) * 60_000;
  }
  const us = ms * 1000 + frac;
  return us >= MIN_MICROS && us <= MAX_MICROS ? us : NaN;
}

const UTC = new ZonedTime('UTC');
const OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const BARE_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** An instant as JSON documents give it (`time_stamp`, `report_time`): parseIsoTimestamp's rule with an offset required. */
export function parseInstant(text: string): number {
  return OFFSET.test(text) ? parseIsoTimestamp(text, UTC) : NaN;
}

/**
 * A bound of a time range as the query API and the CLI read it: the loader's rule (parseIsoTimestamp, a
 * naive one is UTC), or a bare date, meaning its midnight UTC. So whatever a file can hold, a query can name.
 */
export function parseTimeBound(text: string): number {
  return parseIsoTimestamp(BARE_DATE.test(text) ? `${text}T00:00Z` : text, UTC);
}

export function isoProblem(text: string, column: string): FieldProblem {
  if (text.trim() === '') return { rule: 'invalid_timestamp', message: `${column} is empty; expected an ISO-8601 timestamp such as 2013-01-05 10:00:00+00:00` };
  return { rule: 'invalid_timestamp', message: `${column} "${cap(text, VALUE_CAP)}" is not an ISO-8601 timestamp (e.g. 2013-01-05 10:00:00+00:00)` };
}

// ---- uuids --------------------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return text.length === 36 && UUID.test(text);
}

export function uuidProblem(text: string, column: string): FieldProblem {
  if (text.trim() === '') return { rule: 'invalid_uuid', message: `${column} is empty; expected a UUID` };
  return { rule: 'invalid_uuid', message: `${column} "${cap(text, VALUE_CAP)}" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)` };
}

// ---- µs → text ----------------------------------------------------------------------------------------------

/** Integer µs since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the exact text PostgreSQL reads back. */
/**
 * A time older than the retention horizon (`notBeforeUs`, now minus RAW_RETENTION or LOG_RETENTION): its
 * partition is dropped, or about to be, so the row is refused rather than stored to vanish.
 */
export function lateProblem(column: string, us: number, notBeforeUs: number, setting: 'RAW_RETENTION' | 'LOG_RETENTION'): FieldProblem {
  return {
    rule: 'late_beyond_retention',
    message: `${column} ${microsToIso(us)} is older than ${setting} keeps (nothing before ${microsToIso(notBeforeUs)}); the row would be dropped with its partition`,
  };
}

export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  const rest = us - ms * 1000; // 0..999, also for negative us
  const iso = new Date(ms).toISOString(); // …SS.mmmZ
  return `${iso.slice(0, -1)}${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}Z`;
}
