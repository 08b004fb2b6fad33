import { AttemptPolicy } from './attempt-policy';

describe(AttemptPolicy.name, () => {
  it('gives as many deliveries as attempts, or one more with a spare delivery', () => {
    expect(new AttemptPolicy(3).maxDeliveries).toBe(3);
    expect(new AttemptPolicy(3, { spareDelivery: true }).maxDeliveries).toBe(4);
  });

  it('says which delivery and which attempt are the last, and when attempts are exhausted', () => {
    const policy = new AttemptPolicy(2, { spareDelivery: true });
    expect([1, 2, 3].map((d) => policy.isLastDelivery(d))).toEqual([false, false, true]);
    expect([1, 2, 3].map((a) => policy.isLastAttempt(a))).toEqual([false, true, true]);
    expect([1, 2, 3].map((a) => policy.isExhausted(a))).toEqual([false, false, true]);
  });

  it('backs off exponentially, at most a minute', () => {
    const policy = new AttemptPolicy(10);
    expect([1, 2, 3, 7, 8].map((d) => policy.backoffMs(d))).toEqual([1000, 2000, 4000, 60000, 60000]);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new AttemptPolicy(0)).toThrow(/positive integer/);
    expect(() => new AttemptPolicy(1.5)).toThrow(/positive integer/);
  });
});
