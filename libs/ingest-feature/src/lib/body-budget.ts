import { HttpStatus, Injectable } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { ApiException } from '@sluice/http';
import { IngestMetrics } from './ingest.metrics';

/** Seconds a refused client is told to wait (`Retry-After`). */
export const BODY_BUDGET_RETRY_AFTER_S = 1;

interface Waiter {
  bytes: number;
  grant(): void;
}

/**
 * A semaphore of bytes over the POST /ingest bodies held in memory at once (read whole, then checked and
 * stored): INGEST_BODY_MEMORY_BYTES in all, whatever the concurrency. A request waits its turn (first
 * come, first served) for up to INGEST_BODY_WAIT_MS before its body is read, then gets a 503 with
 * `Retry-After`. A body larger than the whole budget waits until it has it to itself.
 */
@Injectable()
export class BodyBudget {
  private readonly capacity: number;
  private readonly waitMs: number;
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    config: IngestApiConfig,
    private readonly metrics: IngestMetrics,
  ) {
    this.capacity = config.INGEST_BODY_MEMORY_BYTES;
    this.waitMs = config.INGEST_BODY_WAIT_MS;
  }

  /** Reserves `bytes` (at most the whole budget); resolves to the release, or rejects with a 503 after the wait. */
  acquire(bytes: number): Promise<() => void> {
    const n = Math.min(Math.max(bytes, 0), this.capacity);
    if (this.waiting.length === 0 && this.used + n <= this.capacity) return Promise.resolve(this.take(n));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes: n,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(n));
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        this.grantWaiting(); // a large waiter leaving may let smaller ones behind it in
        reject(this.busy());
      }, this.waitMs);
      this.waiting.push(waiter);
    });
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Requests waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private take(n: number): () => void {
    this.used += n;
    this.metrics.bodyBytesHeld.set(this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.metrics.bodyBytesHeld.set(this.used);
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length && this.used + this.waiting[0].bytes <= this.capacity) (this.waiting.shift() as Waiter).grant();
  }

  private busy(): ApiException {
    this.metrics.refused.inc({ code: 'body_memory_full' });
    return new ApiException(
      HttpStatus.SERVICE_UNAVAILABLE,
      'service_unavailable',
      `too many request bodies are being read at once (INGEST_BODY_MEMORY_BYTES, ${this.capacity} bytes, waited ${this.waitMs} ms); nothing was accepted — retry after ${BODY_BUDGET_RETRY_AFTER_S} s`,
      { variable: 'INGEST_BODY_MEMORY_BYTES', retry_after_s: BODY_BUDGET_RETRY_AFTER_S },
    );
  }
}
