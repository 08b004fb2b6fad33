import { CliError } from './cli-error';
import { toApiTimestamp } from './timestamps';

describe('toApiTimestamp', () => {
  it.each([
    ['2012-12-31T23:07:00+00', '2012-12-31T23:07:00.000000Z'],
    ['2013-02-16T11:03:00+00', '2013-02-16T11:03:00.000000Z'],
    ['2012-12-31 23:07:00', '2012-12-31T23:07:00.000000Z'],
    ['2012-12-31 23:07:00+00:00', '2012-12-31T23:07:00.000000Z'],
    ['2012-12-31T23:07', '2012-12-31T23:07:00.000000Z'],
    ['2012-12-31', '2012-12-31T00:00:00.000000Z'],
    ['2012-12-31T23:07:00.123456Z', '2012-12-31T23:07:00.123456Z'],
    ['2012-12-31T23:07:00-0530', '2013-01-01T04:37:00.000000Z'],
    ['2012-12-31T23:07:00.1234567Z', '2012-12-31T23:07:00.123457Z'],
  ])('%p → %p (naive means UTC, microseconds kept)', (input, expected) => {
    expect(toApiTimestamp(input, '--start-timestamp')).toBe(expected);
  });

  it('reads the same instant however the offset is written', () => {
    const a = Date.parse(toApiTimestamp('2013-01-01 00:00:00', '--x'));
    expect(Date.parse(toApiTimestamp('2013-01-01T01:00:00+01', '--x'))).toBe(a);
    expect(Date.parse(toApiTimestamp('2012-12-31T19:00:00-0500', '--x'))).toBe(a);
  });

  it.each(['', 'yesterday', '2013-02-30', '2013-13-01', '2013-01-01T24:00:00', '2013-01-01T12:60', '1357000000', '2013-01-01T00:00:00+0', '99999-01-01', '0000-01-01'])('refuses %p as a usage error naming the option', (bad) => {
    let error: unknown;
    try {
      toApiTimestamp(bad, '--end-timestamp');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toContain('--end-timestamp');
  });
});
