import { microsToIso, parseTimeBound } from '@sluice/formats';
import { CliError } from './cli-error';

/**
 * A timestamp as typed on the command line → the form the query API takes (UTC, microseconds). The rule
 * is the query API's and the loader's (parseTimeBound): ISO-8601 with `T` or a space, a bare date, and
 * without an offset UTC. Throws a usage error naming the option for anything else.
 */
export function toApiTimestamp(value: string, option: string): string {
  const us = parseTimeBound(value.trim());
  if (Number.isNaN(us)) {
    throw CliError.usage(`${option}: "${value}" is not a valid ISO-8601 date or timestamp between 0001 and 9999 (e.g. 2013-01-01T00:00:00Z or "2013-01-01 00:00:00+00")`);
  }
  return microsToIso(us);
}
