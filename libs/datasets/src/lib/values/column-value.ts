import { VALUE_CAP, storable, type ContractValueRule } from '@sluice/formats';

/** Rule codes of a field a data contract refuses; each makes its row a row error and the rest of the file loads. */
export type ContractRule = ContractValueRule;

/** Why a field was refused: its rule and a sentence naming the column and the value. */
export interface ValueProblem {
  ok: false;
  rule: ContractRule;
  message: string;
}

/**
 * One field as PostgreSQL's COPY (text format) takes it: `text` is already escaped for COPY, `null` is NULL
 * (the caller writes `\N`); or the reason the row is refused.
 */
export type ColumnValue = { ok: true; text: string | null } | ValueProblem;

/**
 * Reads one raw field of a column: a CSV field (a string), or a JSON value of a record (`undefined` when the
 * record has no such field).
 */
export type ColumnValueParser = (raw: unknown) => ColumnValue;

/** What a column's values depend on besides the column. */
export interface ColumnContext {
  /** The contract's zone of naive local times, for timestamptz columns that name none of their own. */
  timezone?: string;
  /** CSV files written with a decimal comma (`1.234,5`). */
  decimalComma: boolean;
  /**
   * The values come from JSON or NDJSON records: a string given to a jsonb column is then a JSON string value,
   * not JSON text to parse (as a CSV field is).
   */
  jsonSource?: boolean;
}

export const NULL_VALUE: ColumnValue = Object.freeze({ ok: true, text: null });

export function problem(rule: ContractRule, message: string): ValueProblem {
  return { ok: false, rule, message };
}

/** A value as a message quotes it: at most VALUE_CAP characters, NUL and lone surrogates replaced. */
export function quoted(text: string): string {
  const s = storable(text);
  return s.length > VALUE_CAP ? `"${s.slice(0, VALUE_CAP)}…"` : `"${s}"`;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** `text` escaped for a field of COPY's text format: backslash, tab, LF and CR are the characters it gives meaning to. */
export function copyText(text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]) : text;
}
