import { parseIsoTimestamp } from '../sensor/sensor-record';
import type { ZonedTime } from '../sensor/zoned-time.util';

/** One line of a plain-text line file (SPEC §4.7), split into its parts. */
export interface LogLine {
  /** µs since the epoch when the line starts with a timestamp, else null. */
  tsMicros: number | null;
  /** Lower case; null when the line names none. */
  tag: string | null;
  /** The rest of the line after the timestamp and the tag (the whole line when it has neither). */
  message: string;
}

/** Longest tag; a longer word before a colon is taken as part of the message. */
export const MAX_TAG_LENGTH = 32;

const WORD = `[A-Za-z][A-Za-z0-9_.-]{0,${MAX_TAG_LENGTH - 1}}`;
/**
 * A leading ISO-8601 date-time (`T` or a space, seconds and up to 9 fraction digits optional, `.` or `,`,
 * offset `Z`, `±HH`, `±HHMM` or `±HH:MM`), bare or in square brackets, then whitespace or the end.
 */
const LEADING_TS = /^(\[)?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)(\])?(?:\s+|$)/i;
/** `tag: message` — the colon followed by whitespace or the end, so `http://…` or `12:30` are not tags. */
const COLON_TAG = new RegExp(`^(${WORD}):(?:\\s+|$)`);
/** `[TAG] message`, also `[TAG]: message`. */
const BRACKET_TAG = new RegExp(`^\\[(${WORD})\\]:?(?:\\s+|$)`);
/** A level word (`INFO`, `warn:`), taken as the tag only after a leading timestamp. */
const LEVEL_WORD = /^([A-Za-z]+):?(?:\s+|$)/;
const LEVELS = new Set(['trace', 'debug', 'info', 'notice', 'warn', 'warning', 'error', 'err', 'critical', 'crit', 'fatal', 'alert', 'emerg', 'severe']);

/**
 * Splits one line (without its line break) into timestamp, tag and message. A timestamp-shaped prefix that
 * is no real instant (month 13) is part of the message; timestamps without an offset are read in `naive`.
 */
export function parseLogLine(line: string, naive: ZonedTime): LogLine {
  let rest = line;
  let tsMicros: number | null = null;
  const t = LEADING_TS.exec(line);
  if (t && (t[1] === undefined) === (t[3] === undefined)) {
    const us = parseIsoTimestamp(t[2], naive);
    if (!Number.isNaN(us)) {
      tsMicros = us;
      rest = line.slice(t[0].length);
    }
  }
  let tag: string | null = null;
  const m = BRACKET_TAG.exec(rest) ?? COLON_TAG.exec(rest) ?? (tsMicros !== null ? levelWord(rest) : null);
  if (m) {
    tag = m[1].toLowerCase();
    rest = rest.slice(m[0].length);
  }
  return { tsMicros, tag, message: rest.trimEnd() };
}

function levelWord(rest: string): RegExpExecArray | null {
  const m = LEVEL_WORD.exec(rest);
  return m && LEVELS.has(m[1].toLowerCase()) ? m : null;
}
