/**
 * How many times a piece of work is tried, in one place: the transport sets the consumer's max_deliver and
 * backoff from it, and handlers that count attempts themselves (the processor counts them in its ledger) ask it
 * whether an attempt is the last one.
 */
export class AttemptPolicy {
  /** Deliveries of a message at most (JetStream's max_deliver). */
  readonly maxDeliveries: number;

  /**
   * `spareDelivery`: one delivery more than attempts, for work whose attempts are counted elsewhere (in the
   * ledger): a process that dies during its attempt counts none, and the spare delivery records the failure.
   */
  constructor(
    readonly maxAttempts: number,
    { spareDelivery = false }: { spareDelivery?: boolean } = {},
  ) {
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`attempts must be a positive integer, not ${maxAttempts}`);
    this.maxDeliveries = maxAttempts + (spareDelivery ? 1 : 0);
  }

  /** No redelivery follows this one. */
  isLastDelivery(deliveryCount: number): boolean {
    return deliveryCount >= this.maxDeliveries;
  }

  /** Attempt `attempt` (counted from 1) is the last one permitted: its failure is final. */
  isLastAttempt(attempt: number): boolean {
    return attempt >= this.maxAttempts;
  }

  /** Attempt `attempt` is past the limit: every one before it ended without an outcome. */
  isExhausted(attempt: number): boolean {
    return attempt > this.maxAttempts;
  }

  /** The wait before the delivery after failed delivery `deliveryCount`: 1 s, 2 s, 4 s, … 60 s at most. */
  backoffMs(deliveryCount: number): number {
    return Math.min(60000, 1000 * 2 ** (Math.max(1, deliveryCount) - 1));
  }
}
