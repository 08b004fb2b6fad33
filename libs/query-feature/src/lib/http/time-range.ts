import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, Matches } from 'class-validator';
import { ApiException } from '@sluice/http';

/**
 * Normalises an ISO-8601 date or date-time to a string PostgreSQL reads as timestamptz without losing
 * microseconds (a JS Date would keep milliseconds only). A value without an offset is UTC.
 */
export function toTimestamptzText(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T00:00:00Z`;
  if (/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value.slice(10))) return value;
  return `${value}Z`;
}

const MESSAGE = '$property must be an ISO-8601 date or date-time, e.g. 2024-01-01T00:00:00Z';
// The calendar forms PostgreSQL reads too (no week or ordinal dates); IsISO8601 then checks the date exists.
const SHAPE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;

/** An optional ISO-8601 query parameter, to be passed through toTimestamptzText. */
export function IsoTimestampParam(description: string, example: string) {
  return applyDecorators(
    ApiPropertyOptional({ description: `${description} ISO-8601; without an offset it is UTC.`, example, type: String, format: 'date-time' }),
    IsOptional(),
    Matches(SHAPE, { message: MESSAGE }),
    IsISO8601({ strict: true, strictSeparator: true }, { message: MESSAGE }),
  );
}

/** `from` must be before `to` when both are given (compared at ms precision, good enough to refuse nonsense). */
export function assertRange(from: string | undefined, to: string | undefined): void {
  if (from && to && Date.parse(toTimestamptzText(from)) > Date.parse(toTimestamptzText(to))) {
    throw ApiException.invalidParameter('to', 'must not be before from');
  }
}
