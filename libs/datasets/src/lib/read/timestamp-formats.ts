import { DateTime, IANAZone } from 'luxon';

/** Formats named by a word rather than Luxon tokens: ISO-8601 (with or without an offset), Unix seconds, Unix milliseconds. */
export const NAMED_FORMATS = ['iso', 'epoch_s', 'epoch_ms'] as const;

/** The formats of a timestamptz or date column that names none. */
export const DEFAULT_FORMATS: readonly string[] = ['iso'];

/** A fixed instant written with every Luxon token, to see whether a format can read a whole date back. */
const PROBE = DateTime.fromObject({ year: 2024, month: 11, day: 27, hour: 13, minute: 45, second: 30, millisecond: 123 }, { zone: 'UTC' });
const LOCALE = 'en-US';

/** Luxon tokens that carry an offset or a zone (`Z`, `ZZ`, `ZZZ`, `z`): a value with one is not a naive local time. */
const ZONE_TOKEN = /^(Z{1,5}|z)$/;
/** Luxon's Unix tokens: `epoch_s` and `epoch_ms` say the same more plainly. */
const UNIX_TOKEN = /^[Xx]$/;

function tokensOf(format: string): { literal: boolean; val: string }[] {
  return (DateTime.fromFormatExplain('', format, { locale: LOCALE }).tokens ?? []) as { literal: boolean; val: string }[];
}

/** Why `format` cannot be a format of a timestamptz or date column (`what` names it), or null when it can. */
export function timestampFormatProblem(format: string, what: string): string | null {
  if ((NAMED_FORMATS as readonly string[]).includes(format)) return null;
  const tokens = tokensOf(format);
  if (tokens.some((t) => !t.literal && UNIX_TOKEN.test(t.val))) {
    return `${what} ${JSON.stringify(format)} uses Luxon's Unix tokens; write epoch_s (seconds) or epoch_ms (milliseconds) instead`;
  }
  const written = PROBE.toFormat(format, { locale: LOCALE });
  const read = DateTime.fromFormat(written, format, { zone: 'UTC', locale: LOCALE, setZone: true });
  if (!read.isValid || read.year !== PROBE.year || read.month !== PROBE.month || read.day !== PROBE.day) {
    return (
      `${what} ${JSON.stringify(format)} cannot be read as a date: a format needs a year (yyyy), a month (MM) and a day (dd) ` +
      `in Luxon tokens, e.g. "dd.MM.yyyy HH:mm"; or use iso, epoch_s or epoch_ms`
    );
  }
  return null;
}

/** A Luxon format without an offset or zone token: its values are local times, meaningful only with a time zone. */
export function isNaiveFormat(format: string): boolean {
  if ((NAMED_FORMATS as readonly string[]).includes(format)) return false;
  return !tokensOf(format).some((t) => !t.literal && (ZONE_TOKEN.test(t.val) || UNIX_TOKEN.test(t.val)));
}

/**
 * Why `zone` is not an IANA time zone (`Europe/Berlin`, `UTC`), or null when it is. Offsets such as `+02:00` are
 * refused: they ignore daylight saving time, which is what naming the zone is for (`Etc/GMT-2` is there when a
 * fixed offset is really meant).
 */
export function timeZoneProblem(zone: string, what: string): string | null {
  if (/^[A-Za-z]/.test(zone) && IANAZone.isValidZone(zone)) return null;
  return `${what} ${JSON.stringify(zone)} is not an IANA time zone; write one such as Europe/Berlin, America/New_York or UTC`;
}
