import { Injectable, Logger } from '@nestjs/common';
import { IdempotencyRepository } from './idempotency.repository';

/**
 * Deletes Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS at start and then hourly (IngestApiJobs), so the table holds
 * about a TTL's worth of keys. Expiry itself does not wait for this: an expired key already counts as absent.
 */
@Injectable()
export class IdempotencyExpiry {
  private readonly logger = new Logger(IdempotencyExpiry.name);

  constructor(private readonly keys: IdempotencyRepository) {}

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
