/**
 * What a JetStream handler may throw to say how its message is settled; anything else it throws is a failed
 * attempt (retried with backoff while the attempt policy allows), and a handler that resolves has its message acked.
 */

/**
 * Not now, and not a failure (another process holds the work): redelivered after `delayMs`. It uses up no
 * attempt: on the last delivery the message is queued again as a new one.
 */
export class RetryLater extends Error {
  override readonly name: string = 'RetryLater';

  constructor(
    readonly delayMs: number,
    reason = 'not workable yet',
  ) {
    super(reason);
  }
}

/** Nothing left to try (the handler has settled the work as failed, or it can never succeed): terminated at once. */
export class GiveUp extends Error {
  override readonly name: string = 'GiveUp';

  constructor(
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

/**
 * A message that can never be handled (it fails validation, or its handler says so): terminated at once; in a
 * batch call only this message is, the others being handled again on their own.
 */
export class InvalidMessage extends GiveUp {
  override readonly name: string = 'InvalidMessage';
}
