import { Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';

/** `job` made single-flight: a call while a run is still going returns that run instead of starting another. */
export function singleFlight<T>(job: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= job().finally(() => (running = undefined)));
}

/**
 * Periodic jobs whose period comes from configuration, kept in Nest's SchedulerRegistry under their name
 * (fixed periods use `@Interval` instead). A job never overlaps itself: a tick while the previous run is
 * still going is skipped. The scheduler clears every interval at shutdown; services stop theirs first, before
 * they drain, with stop().
 */
@Injectable()
export class PeriodicJobs {
  private readonly logger = new Logger(PeriodicJobs.name);

  constructor(private readonly registry: SchedulerRegistry) {}

  /** Runs `job` every `everyMs` from now on (not now); `job` logs its own failures. */
  every(name: string, everyMs: number, job: () => Promise<unknown>): void {
    const run = singleFlight(async () => {
      this.logger.debug(`job ${name}: run`);
      await job();
    });
    // SchedulerRegistry takes the timer its caller made: this is the one place a service's periodic timer is made.
    this.registry.addInterval(name, setInterval(() => void run().catch((e: unknown) => this.logger.error(`job ${name} failed: ${(e as Error).message}`)), everyMs));
    this.logger.log(`job ${name}: every ${everyMs} ms`);
  }

  /** Runs `job` at the times of a cron expression (UTC); returns when it runs next. */
  cron(name: string, expression: string, job: () => Promise<unknown>): Date {
    const run = singleFlight(async () => {
      this.logger.debug(`job ${name}: run`);
      await job();
    });
    const cron = CronJob.from({ cronTime: expression, timeZone: 'UTC', start: true, onTick: () => void run().catch((e: unknown) => this.logger.error(`job ${name} failed: ${(e as Error).message}`)) });
    this.registry.addCronJob(name, cron);
    const next = cron.nextDate().toJSDate();
    this.logger.log(`job ${name}: at '${expression}' (UTC), next ${next.toISOString()}`);
    return next;
  }

  /** Stops the named jobs (a run in progress goes on; the caller drains it). */
  stop(...names: string[]): void {
    for (const name of names) {
      if (this.registry.doesExist('cron', name)) {
        this.registry.deleteCronJob(name);
        this.logger.log(`job ${name}: stopped`);
      }
      if (!this.registry.doesExist('interval', name)) continue;
      this.registry.deleteInterval(name);
      this.logger.log(`job ${name}: stopped`);
    }
  }
}
