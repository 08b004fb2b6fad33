import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { IdempotencyRepository } from './idempotency.repository';

const EVERY_MS = 60 * 60 * 1000;

/**
 * Deletes Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS at start and then hourly, so the table holds
 * about a TTL's worth of keys. Expiry itself does not wait for this: an expired key already counts as absent.
 */
@Injectable()
export class IdempotencyExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyExpiry.name);
  private timer?: NodeJS.Timeout;

  constructor(private readonly keys: IdempotencyRepository) {}

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    try {
      const deleted = await this.keys.deleteExpired();
      if (deleted) this.logger.log(`deleted ${deleted} expired Idempotency-Key(s)`);
      return deleted;
    } catch (e) {
      this.logger.warn(`deleting expired Idempotency-Keys failed: ${(e as Error).message}`);
      return 0;
    }
  }
}
