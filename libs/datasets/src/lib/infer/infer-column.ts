import type { ColumnType } from '../contract';
import {
  fits,
  formatHasOffset,
  hasLeadingZero,
  isEmptyValue,
  isNaiveIsoValue,
  numberText,
  parsesWithFormat,
  valueText,
  type ValueOptions,
} from './values';

/** A column as inference sees it, before a person has looked at it. */
export interface InferredColumn {
  /** The header name (CSV) or dotted path (JSON) it was read from. */
  source: string;
  /** The table column: an identifier made from `source`. */
  name: string;
  type: ColumnType;
  /** No sampled value was missing or empty. */
  required: boolean;
  /** timestamptz and date: the formats the sampled values were written in, in the order to try them. */
  formats?: string[];
  /** timestamptz: the values name no offset, so the contract needs a timezone. */
  naive: boolean;
  /** Up to three distinct sampled values, as text. */
  examples: string[];
  /** How many values were looked at (empty ones included). */
  rowsSeen: number;
  /** Why this type, in a few words for the person who checks the contract. */
  reason: string;
}

/** Values looked at per column; a sample beyond this says nothing new about a type and costs time. */
export const MAX_INFER_SAMPLES = 10_000;
/** Identifier length PostgreSQL keeps (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_LENGTH = 63;
const MAX_EXAMPLES = 3;
const MAX_EXAMPLE_LENGTH = 40;
/** Values looked at to say why a column is text: the first misfit of a nearly typed column is among them. */
const MAX_REASON_VALUES = 1_000;

/**
 * The table column name for a source: lower case, accents dropped, camelCase split, anything but `[a-z0-9_]` made
 * `_` (runs collapsed, none at the ends), `_` before a leading digit, at most 63 characters. `column` when nothing
 * is left.
 */
export function columnNameFromSource(source: string): string {
  const name = source
    .slice(0, 4 * MAX_IDENTIFIER_LENGTH)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  const identifier = /^\d/.test(name) ? `_${name}` : name || 'column';
  return identifier.slice(0, MAX_IDENTIFIER_LENGTH).replace(/_$/, '');
}

interface TemporalFamily {
  type: 'date' | 'timestamptz';
  /** Formats of one way of writing, tried in order; a column uses those its values need. */
  formats: string[];
  describe: string;
}

/**
 * Ways of writing dates and times inference recognises, in order of preference. `dd/MM` comes before `MM/dd`, so
 * slashed dates are read day first unless a value only reads month first (`03/29/2024`).
 */
const TEMPORAL_FAMILIES: TemporalFamily[] = [
  { type: 'date', formats: ['iso'], describe: 'ISO dates (yyyy-MM-dd)' },
  { type: 'date', formats: ['dd.MM.yyyy', 'd.M.yyyy'], describe: 'dates written dd.MM.yyyy' },
  { type: 'date', formats: ['dd/MM/yyyy', 'd/M/yyyy'], describe: 'dates written dd/MM/yyyy' },
  { type: 'date', formats: ['MM/dd/yyyy', 'M/d/yyyy'], describe: 'dates written MM/dd/yyyy' },
  { type: 'timestamptz', formats: ['iso'], describe: 'ISO timestamps' },
  {
    type: 'timestamptz',
    formats: ['yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd HH:mm:ss.SSS'],
    describe: 'times written yyyy-MM-dd HH:mm',
  },
  { type: 'timestamptz', formats: ['yyyy-MM-dd HH:mm:ssZZ', 'yyyy-MM-dd HH:mm:ssZ'], describe: 'times with an offset' },
  { type: 'timestamptz', formats: ['dd.MM.yyyy HH:mm:ss', 'dd.MM.yyyy HH:mm'], describe: 'times written dd.MM.yyyy HH:mm' },
  { type: 'timestamptz', formats: ['dd/MM/yyyy HH:mm:ss', 'dd/MM/yyyy HH:mm'], describe: 'times written dd/MM/yyyy HH:mm' },
  { type: 'timestamptz', formats: ['MM/dd/yyyy HH:mm:ss', 'MM/dd/yyyy HH:mm'], describe: 'times written MM/dd/yyyy HH:mm' },
];

/** Names that say a column holds times, so whole numbers in it may be epoch seconds or milliseconds. */
const TIME_NAME = /(?:^|_)(?:ts|time|timestamp|epoch|unix|datetime)(?:_|$)|time$|_at$/;
/** 2000-01-01 to 2100-01-01: numbers outside are counts or ids, not times. */
const EPOCH_S_RANGE = [946_684_800, 4_102_444_800] as const;

/** The formats of `family` the values are written in (in family order), or null when some value reads with none. */
function familyFormats(family: TemporalFamily, values: unknown[]): string[] | null {
  const used = new Set<string>();
  for (const value of values) {
    const format = family.formats.find((f) => parsesWithFormat(f, value, family.type));
    if (format === undefined) return null;
    used.add(format);
  }
  return family.formats.filter((f) => used.has(f));
}

function epochFormat(values: unknown[]): 'epoch_s' | 'epoch_ms' | null {
  const texts = values.map((v) => numberText(v));
  if (texts.some((t) => t === null)) return null;
  const numbers = texts.map(Number);
  const [from, to] = EPOCH_S_RANGE;
  if (numbers.every((n) => n >= from && n < to)) return 'epoch_s';
  if (numbers.every((n) => Number.isInteger(n) && n >= from * 1000 && n < to * 1000)) return 'epoch_ms';
  return null;
}

function quoted(value: unknown): string {
  return JSON.stringify(valueText(value).slice(0, MAX_EXAMPLE_LENGTH));
}

/** Why a column that is almost a number, date or time is text: the first value that is none. */
function textReason(allValues: unknown[], options: ValueOptions): string {
  const values = allValues.slice(0, MAX_REASON_VALUES);
  const near: { type: ColumnType; formats?: string[]; what: string }[] = [
    { type: 'float', what: 'a number' },
    ...TEMPORAL_FAMILIES.map((f) => ({ type: f.type, formats: f.formats, what: f.type === 'date' ? 'a date' : 'a time' })),
  ];
  for (const candidate of near) {
    const misfits = values.filter((v) => !fits(candidate.type, v, { ...options, formats: candidate.formats }));
    if (misfits.length > 0 && misfits.length * 2 < values.length) {
      return `mostly ${candidate.type} values, but ${quoted(misfits[0])} is not ${candidate.what}`;
    }
  }
  return 'free text';
}

/**
 * The type of a column from sampled values (empty ones ignored): the first of bool, epoch times (only when the name
 * says time), int, bigint, float, date, timestamptz, jsonb and text that every value fits. Integers written with
 * leading zeros are codes and stay text. `decimalComma` reads `12,5` as a number (a CSV format's setting).
 */
export function inferColumn(source: string, samples: unknown[], options: ValueOptions = {}): InferredColumn {
  const seen = samples.slice(0, MAX_INFER_SAMPLES);
  const values = seen.filter((v) => !isEmptyValue(v));
  const name = columnNameFromSource(source);
  const examples = [...new Set(values.map((v) => valueText(v).slice(0, MAX_EXAMPLE_LENGTH)))].slice(0, MAX_EXAMPLES);
  const column = (type: ColumnType, reason: string, extra: Partial<InferredColumn> = {}): InferredColumn => ({
    source,
    name,
    type,
    required: seen.length > 0 && values.length === seen.length,
    naive: false,
    examples,
    rowsSeen: seen.length,
    reason,
    ...extra,
  });
  const all = (type: ColumnType) => values.every((v) => fits(type, v, options));

  if (values.length === 0) return column('text', 'no values in the sample, so text until you know better');
  if (all('bool')) return column('bool', 'every value is true/false or yes/no');
  if (TIME_NAME.test(name)) {
    const epoch = epochFormat(values);
    if (epoch) {
      const unit = epoch === 'epoch_s' ? 'seconds' : 'milliseconds';
      return column('timestamptz', `the name says time and the numbers are Unix ${unit} since 2000`, { formats: [epoch] });
    }
  }
  if (all('float')) {
    const padded = values.find(hasLeadingZero);
    if (padded !== undefined) return column('text', `numbers with leading zeros (${quoted(padded)}) are codes, kept as text`);
    const comma = options.decimalComma ? ', decimal comma' : '';
    if (all('int')) return column('int', 'whole numbers that fit 32 bits');
    if (all('bigint')) return column('bigint', 'whole numbers beyond 32 bits');
    return column('float', `numbers with a fraction${comma}`);
  }
  for (const family of TEMPORAL_FAMILIES) {
    const formats = familyFormats(family, values);
    if (!formats) continue;
    const naive = family.type === 'timestamptz' && (formats[0] === 'iso' ? values.some(isNaiveIsoValue) : !formats.some(formatHasOffset));
    const monthFirstToo = formats[0].startsWith('dd/') && familyFormats({ ...family, formats: family.formats.map(monthFirst) }, values);
    const reason = [
      family.describe,
      naive ? 'without an offset (local times)' : '',
      monthFirstToo ? 'ambiguous: every value also reads as MM/dd, check' : '',
    ];
    return column(family.type, reason.filter(Boolean).join(', '), { formats, naive });
  }
  if (all('jsonb')) return column('jsonb', 'JSON objects or arrays');
  return column('text', textReason(values, options));
}

/** `dd/MM/yyyy HH:mm` → `MM/dd/yyyy HH:mm`. */
function monthFirst(format: string): string {
  return format.replace(/^(d+)\/(M+)\//, '$2/$1/');
}
