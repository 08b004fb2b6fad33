/** Events the shared feed keeps for its readers: about 3 MB, many seconds of a busy pipeline. */
export const LIVE_FEED_CAPACITY = 10_000;

/** An event with the stream sequence of the message that carried it (a batch message gives several). */
export interface Sequenced {
  seq: number;
}

/** A reader fell so far behind that the events it had still to read were dropped from the feed. */
export class FeedOverrunError extends Error {
  constructor() {
    super(`the client fell more than ${LIVE_FEED_CAPACITY} events behind`);
  }
}

/** The feed stopped (its consumer failed or the service is shutting down): readers end with it. */
export class FeedStoppedError extends Error {}

/**
 * The events of one JetStream consumer shared by every /events client: decoded once, kept in a ring of
 * the last `capacity`, read by each client at its own pace through a position of its own. A client costs
 * a position, not a queue, whatever its speed: one that falls `capacity` events behind is told so and
 * dropped (it reconnects and resumes by Last-Event-ID). The feed holds every event with a sequence above
 * `startSeq` (the stream's last sequence when it began) that has not been pushed out of the ring.
 */
export class LiveFeed<E extends Sequenced> {
  private readonly ring: (E | undefined)[];
  /** Events appended so far; the next one's absolute position. */
  private appended = 0;
  /** Highest sequence pushed out of the ring: a resume after a smaller one has lost events here. */
  private evictedThroughSeq = 0;
  private stopped?: Error;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly startSeq: number,
    private readonly capacity = LIVE_FEED_CAPACITY,
  ) {
    this.ring = new Array<E | undefined>(capacity);
  }

  append(event: E): void {
    const slot = this.appended % this.capacity;
    const evicted = this.ring[slot];
    if (evicted) this.evictedThroughSeq = evicted.seq;
    this.ring[slot] = event;
    this.appended++;
    this.wake();
  }

  stop(reason: Error = new FeedStoppedError('the live feed stopped')): void {
    this.stopped ??= reason;
    this.wake();
  }

  /**
   * The position of the first event after `afterSeq`, or undefined when the feed may not hold all of them
   * (they came before it began, or were pushed out since). No `afterSeq`: new events only.
   */
  positionAfter(): number;
  positionAfter(afterSeq: number | undefined): number | undefined;
  positionAfter(afterSeq?: number): number | undefined {
    if (afterSeq === undefined) return this.appended;
    if (afterSeq < this.startSeq || afterSeq < this.evictedThroughSeq) return undefined;
    let position = Math.max(0, this.appended - this.capacity);
    while (position < this.appended && (this.ring[position % this.capacity] as E).seq <= afterSeq) position++;
    return position;
  }

  /**
   * Events from `position` on, as they come, until `signal` aborts; throws FeedOverrunError for a reader the
   * ring has overtaken, and the reason the feed stopped once a reader has read all it had.
   */
  async *read(position: number, signal: AbortSignal): AsyncGenerator<E> {
    while (!signal.aborted) {
      if (position < this.appended - this.capacity) throw new FeedOverrunError();
      if (position < this.appended) {
        yield this.ring[position % this.capacity] as E;
        position++;
        continue;
      }
      if (this.stopped) throw this.stopped;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
