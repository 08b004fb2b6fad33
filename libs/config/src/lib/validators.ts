import { registerDecorator, type ValidationOptions } from 'class-validator';
import { parseMetricRanges } from './parsers';

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
