import { CliError } from './cli-error';

// Date, then optionally time with a `T` or a space, fraction up to µs, and an offset (Z, ±HH, ±HHMM, ±HH:MM).
const SHAPE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * A timestamp as typed on the command line → the ISO-8601 form the query API takes, keeping
 * microseconds. A value without an offset is UTC (as the API reads it). Throws a usage error naming
 * the option for anything else, including dates that do not exist.
 */
export function toApiTimestamp(value: string, option: string): string {
  const m = SHAPE.exec(value.trim());
  if (!m) throw CliError.usage(`${option}: "${value}" is not an ISO-8601 timestamp (e.g. 2013-01-01T00:00:00Z or "2013-01-01 00:00:00+00")`);
  const [, date, hm = '00:00', sec = '00', frac, offset] = m;
  let zone = 'Z';
  if (offset && offset.toUpperCase() !== 'Z') {
    const digits = offset.slice(1).replace(':', '');
    zone = `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
  }
  const iso = `${date}T${hm}:${sec}${frac ? `.${frac}` : ''}${zone}`;
  const ms = Date.parse(iso);
  // Date.parse rolls 2013-02-30 over to March: compare the calendar date back.
  const [y, mo, d] = date.split('-').map(Number);
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (Number.isNaN(ms) || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || Number(hm.slice(0, 2)) > 23 || Number(hm.slice(3)) > 59 || Number(sec) > 59) {
    throw CliError.usage(`${option}: "${value}" is not a valid date and time`);
  }
  return iso;
}
