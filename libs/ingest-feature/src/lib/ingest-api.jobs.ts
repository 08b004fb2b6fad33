import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { singleFlight } from '@sluice/observability';
import { IdempotencyExpiry } from './idempotency-expiry.service';
import { TempSweeper } from './temp-sweeper.service';

const HOUR_MS = 60 * 60 * 1000;

/**
 * The ingest-api's periodic jobs: each sweep runs at start, then hourly on Nest's scheduler, which stops them at
 * shutdown. A sweep still running when the next is due is not started a second time.
 */
@Injectable()
export class IngestApiJobs implements OnApplicationBootstrap {
  private readonly tempOnce = singleFlight(() => this.temp.sweep());
  private readonly keysOnce = singleFlight(() => this.keys.sweep());

  constructor(
    private readonly temp: TempSweeper,
    private readonly keys: IdempotencyExpiry,
  ) {}

  onApplicationBootstrap(): void {
    void this.sweepTempFiles();
    void this.expireIdempotencyKeys();
  }

  @Interval('ingest-api.temp-sweep', HOUR_MS)
  sweepTempFiles(): Promise<number> {
    return this.tempOnce();
  }

  @Interval('ingest-api.idempotency-expiry', HOUR_MS)
  expireIdempotencyKeys(): Promise<number> {
    return this.keysOnce();
  }
}
