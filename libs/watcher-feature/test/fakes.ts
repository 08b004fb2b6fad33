import type { FileSubject, Subjects } from '@sluice/contracts';
import type { JetStreamService } from '@sluice/messaging';

/** A sha256 made of one repeated character (readable in assertions). */
export const sha = (c: string): string => c.repeat(64).slice(0, 64);

/** An error as node:fs throws it. */
export const errno = (code: string): Error & { code: string } => Object.assign(new Error(`${code}: operation failed`), { code });

/**
 * Records what is published, and in `journal` (when given) the order among other fakes' steps. `failOn`
 * makes the publishes it matches fail as they do while NATS is down.
 */
export class FakeJetStream implements Pick<JetStreamService, 'publish'> {
  readonly sent: Array<{ subject: FileSubject; payload: unknown; msgId: string }> = [];
  failOn?: (msgId: string) => boolean;

  constructor(private readonly journal?: string[]) {}

  async publish<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string): Promise<void> {
    if (this.failOn?.(msgId)) throw new Error('TIMEOUT');
    this.sent.push({ subject, payload, msgId });
    this.journal?.push(`publish ${subject} ${msgId}`);
  }
}

/** A counter that remembers its increments, by label set. */
export class FakeCounter {
  readonly counts = new Map<string, number>();

  inc(labels?: Record<string, string> | number, value?: number): void {
    const key = typeof labels === 'object' ? JSON.stringify(labels) : '';
    const by = typeof labels === 'number' ? labels : (value ?? 1);
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  value(labels?: Record<string, string>): number {
    return this.counts.get(labels ? JSON.stringify(labels) : '') ?? 0;
  }
}
