import { FeedOverrunError, FeedStoppedError, LiveFeed } from './live-feed';

const ev = (seq: number) => ({ seq });

/** Reads what a reader has without waiting for more: the events up to the first wait. */
async function readAvailable(it: AsyncGenerator<{ seq: number }>, max: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < max; i++) seqs.push((await it.next()).value.seq);
  return seqs;
}

describe(LiveFeed.name, () => {
  it('gives each reader every event from its own position, at its own pace', async () => {
    const feed = new LiveFeed(10, 8);
    const signal = new AbortController().signal;
    const early = feed.read(feed.positionAfter(), signal);
    [11, 12, 13].forEach((s) => feed.append(ev(s)));
    const late = feed.read(feed.positionAfter(), signal);
    feed.append(ev(14));
    expect(await readAvailable(early, 4)).toEqual([11, 12, 13, 14]);
    expect(await readAvailable(late, 1)).toEqual([14]);
  });

  it('wakes a waiting reader on the next event, and ends it when its signal aborts', async () => {
    const feed = new LiveFeed(0, 8);
    const abort = new AbortController();
    const reader = feed.read(feed.positionAfter(), abort.signal);
    const next = reader.next();
    feed.append(ev(1));
    expect((await next).value).toEqual(ev(1));
    const waiting = reader.next();
    abort.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });

  it('resumes after a sequence it holds (several events may share one), not after one from before it began or pushed out', async () => {
    const feed = new LiveFeed(10, 4);
    [11, 12, 12, 13].forEach((s) => feed.append(ev(s)));
    const signal = new AbortController().signal;
    expect(await readAvailable(feed.read(feed.positionAfter(11) as number, signal), 3)).toEqual([12, 12, 13]);
    expect(await readAvailable(feed.read(feed.positionAfter(10) as number, signal), 4)).toEqual([11, 12, 12, 13]);
    expect(feed.positionAfter(9)).toBeUndefined();
    feed.append(ev(14)); // pushes 11 out
    expect(feed.positionAfter(10)).toBeUndefined();
    expect(await readAvailable(feed.read(feed.positionAfter(11) as number, signal), 1)).toEqual([12]);
  });

  it('drops a reader the ring has overtaken instead of keeping its events for it', async () => {
    const feed = new LiveFeed(0, 4);
    const slow = feed.read(feed.positionAfter(), new AbortController().signal);
    for (let s = 1; s <= 5; s++) feed.append(ev(s));
    await expect(slow.next()).rejects.toBeInstanceOf(FeedOverrunError);
  });

  it('ends its readers with the reason it stopped once they have read what it had', async () => {
    const feed = new LiveFeed(0, 4);
    const reader = feed.read(feed.positionAfter(), new AbortController().signal);
    feed.append(ev(1));
    feed.stop();
    expect((await reader.next()).value).toEqual(ev(1));
    await expect(reader.next()).rejects.toBeInstanceOf(FeedStoppedError);
  });
});
