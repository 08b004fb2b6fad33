import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, ValidateBy } from 'class-validator';
import { ApiException } from '@sluice/http';
import { microsToIso, parseTimeBound } from '@sluice/formats';

/**
 * A validated `from`/`to` → the UTC text PostgreSQL reads as timestamptz, microseconds kept (a JS Date
 * would keep milliseconds only).
 */
export function toTimestamptzText(value: string): string {
  return microsToIso(parseTimeBound(value));
}

/** toTimestamptzText of an optional parameter. */
export const optionalTimestamptz = (value: string | undefined): string | undefined => (value === undefined ? undefined : toTimestamptzText(value));

const MESSAGE = '$property must be an ISO-8601 date or date-time between 0001-01-01 and 9999-12-31, e.g. 2024-01-01T00:00:00Z';

/**
 * An optional time-range query parameter, to be passed through toTimestamptzText. It takes what the loader
 * takes in a file (parseTimeBound), so any stored timestamp can be named in a query.
 */
export function IsoTimestampParam(description: string, example: string) {
  return applyDecorators(
    ApiPropertyOptional({
      description: `${description} ISO-8601 (\`T\` or a space, up to 9 fraction digits, offset \`Z\`, \`±HH\`, \`±HHMM\` or \`±HH:MM\`), or a bare date; without an offset it is UTC.`,
      example,
      type: String,
      format: 'date-time',
    }),
    IsOptional(),
    ValidateBy(
      { name: 'isTimeBound', validator: { validate: (v: unknown) => typeof v === 'string' && v.length <= 64 && !Number.isNaN(parseTimeBound(v)), defaultMessage: () => MESSAGE } },
      { message: MESSAGE },
    ),
  );
}

/** `from` must not be after `to` when both are given. */
export function assertRange(from: string | undefined, to: string | undefined): void {
  if (from && to && parseTimeBound(from) > parseTimeBound(to)) {
    throw ApiException.invalidParameter('to', 'must not be before from');
  }
}
