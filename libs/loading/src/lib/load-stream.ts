/** How many records a loader reads between two calls of `onProgress` (the caller heartbeats JetStream). */
export const PROGRESS_EVERY = 10_000;

/** Counts records read and calls `onProgress` every PROGRESS_EVERY of them. */
export function progressEvery(onProgress: (() => void) | undefined): (records: number) => void {
  let since = 0;
  return (records) => {
    since += records;
    if (since >= PROGRESS_EVERY && onProgress) {
      since = 0;
      onProgress();
    }
  };
}

/** Closes a file's stream a loader stops reading early (a refused file, a failure). */
export function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
