import { type CanActivate, type ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { API_KEY_HEADER, ApiException } from '@sluice/http';

/** Buckets idle this long are forgotten (a full bucket is the same as none). */
const IDLE_MS = 5 * 60 * 1000;

/** Token bucket: `rate` tokens a second up to `burst`; one request takes one token. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when a token was taken, else the milliseconds until one is free. */
  take(id: string): number {
    const t = this.now();
    this.sweep(t);
    const b = this.buckets.get(id) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) * this.rate) / 1000);
    b.at = t;
    this.buckets.set(id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate);
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < IDLE_MS) return;
    this.lastSweep = t;
    for (const [id, b] of this.buckets) if (t - b.at > IDLE_MS) this.buckets.delete(id);
  }
}

/**
 * 429 when one API key sends more than INGEST_RATE_LIMIT requests a second (with INGEST_RATE_BURST of
 * slack). Runs after the key guard, so only accepted keys have buckets. The key is the map key in memory
 * only; it is never logged or echoed.
 *
 * Not @nestjs/throttler (6.7): its limit is `limit` hits per `ttl` window, which cannot say "INGEST_RATE_LIMIT a
 * second with INGEST_RATE_BURST of slack" (after a burst a client waits for the whole window, not 1/rate), and
 * its in-memory storage keeps one timestamp per hit in the window and filters them all on every request:
 * measured 80 µs CPU per request at 3,000 live hits and 150 µs at 6,000 (this bucket: under 1 µs), i.e. a large
 * share of a core at the SPEC's 2,000 req/s; a blocked request also spreads them into Math.min, which throws
 * past ~150,000 (INGEST_RATE_BURST allows more). A token-bucket ThrottlerStorage would keep the semantics but
 * leave this arithmetic in place and only swap the guard's few lines for throttler's.
 */
@Injectable()
export class IngestRateLimitGuard implements CanActivate {
  private readonly buckets?: TokenBuckets;

  constructor(private readonly config: IngestApiConfig) {
    if (config.INGEST_RATE_LIMIT > 0) this.buckets = new TokenBuckets(config.INGEST_RATE_LIMIT, config.INGEST_RATE_BURST);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.buckets || context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const key = req.headers[API_KEY_HEADER];
    const waitMs = this.buckets.take(typeof key === 'string' ? key : '');
    if (waitMs === 0) return true;
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    http.getResponse<{ setHeader(name: string, value: string): void }>().setHeader('Retry-After', String(retryAfter));
    throw new ApiException(
      HttpStatus.TOO_MANY_REQUESTS,
      'rate_limited',
      `more than ${this.config.INGEST_RATE_LIMIT} requests a second with this API key (INGEST_RATE_LIMIT, burst INGEST_RATE_BURST=${this.config.INGEST_RATE_BURST}); retry after ${retryAfter} s`,
      { limit_per_second: this.config.INGEST_RATE_LIMIT, burst: this.config.INGEST_RATE_BURST, retry_after_seconds: retryAfter },
    );
  }
}
