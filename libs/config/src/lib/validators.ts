import { validateCronExpression } from 'cron';
import { registerDecorator, type ValidationOptions } from 'class-validator';
import { parseByteSize, parseDuration, parseMetricRanges } from './parsers';

export function IsMetricRanges(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isMetricRanges',
      target: target.constructor,
      propertyName,
      options: { message: 'must look like temp=-50..50,humidity=0..100', ...options },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          try {
            parseMetricRanges(value);
            return true;
          } catch {
            return false;
          }
        },
      },
    });
}

export function IsTimeZone(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isTimeZone',
      target: target.constructor,
      propertyName,
      options: { message: 'must be an IANA time zone such as UTC or Europe/Berlin', ...options },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: value });
            return true;
          } catch {
            return false;
          }
        },
      },
    });
}

/** Comma-separated list of URLs with one of the given schemes. */
export function IsUrlList(schemes: string[], options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isUrlList',
      target: target.constructor,
      propertyName,
      options: { message: `must be a comma-separated list of ${schemes.join('/')} URLs`, ...options },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          return value.split(',').every((u) => {
            try {
              return schemes.includes(new URL(u.trim()).protocol.replace(':', ''));
            } catch {
              return false;
            }
          });
        },
      },
    });
}

/** A value its parser accepts (the parser's message is the reason when it does not). */
function parsedBy(name: string, parse: (v: string) => unknown, message: string) {
  return (options?: ValidationOptions) => (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message, ...options },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string' && typeof value !== 'number') return false;
          try {
            parse(String(value));
            return true;
          } catch {
            return false;
          }
        },
      },
    });
}

export const IsDuration = parsedBy('isDuration', parseDuration, 'must be a period such as 36h, 90d or 12w (unset: keep everything)');
export const IsByteSize = parsedBy('isByteSize', parseByteSize, 'must be a size such as 1073741824, 512MiB or 1GiB (0: off)');

export const IsCron = parsedBy(
  'isCron',
  (v) => {
    if (!validateCronExpression(v).valid) throw new Error('not a cron expression');
  },
  "must be a cron expression such as '0 * * * *' (minute hour day month weekday)",
);
