import { nextCronRun } from './schedule';

describe('nextCronRun', () => {
  it('gives the next firing after the instant, in UTC', () => {
    expect(nextCronRun('0 * * * *', new Date('2026-01-01T10:30:00Z'))).toBe('2026-01-01T11:00:00Z');
    expect(nextCronRun('30 2 * * *', new Date('2026-01-01T10:30:00Z'))).toBe('2026-01-02T02:30:00Z');
    expect(nextCronRun('0 0 * * 1', new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-05T00:00:00Z');
  });

  it('is null for an expression it cannot read', () => {
    expect(nextCronRun('every hour', new Date('2026-01-01T10:30:00Z'))).toBeNull();
    expect(nextCronRun('61 * * * *', new Date('2026-01-01T10:30:00Z'))).toBeNull();
  });
});
