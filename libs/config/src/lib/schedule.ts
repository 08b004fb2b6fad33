import { CronTime } from 'cron';

/**
 * The next time a cron expression fires after `from`, in UTC (ISO-8601), as `@nestjs/schedule` reads it
 * (the same `cron` package, 5 or 6 fields); null when the expression cannot be read.
 */
export function nextCronRun(expression: string, from: Date = new Date()): string | null {
  try {
    const next = new CronTime(expression, 'UTC').getNextDateFrom(from, 'UTC');
    return next.toUTC().toISO({ suppressMilliseconds: true });
  } catch {
    return null;
  }
}
