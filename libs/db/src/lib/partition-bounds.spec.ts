import { addIntervals, intervalStart, partitionName, tsLiteral } from './partition-bounds';

const utc = (s: string) => new Date(`${s}T00:00:00Z`);

describe('partition bounds', () => {
  it('aligns intervals in UTC, weeks from Monday', () => {
    const t = new Date('2027-03-17T22:30:00-05:00'); // a Wednesday evening there, Thursday 03:30 in UTC
    expect(intervalStart(t, 'day')).toEqual(utc('2027-03-18'));
    expect(intervalStart(t, 'week')).toEqual(utc('2027-03-15'));
    expect(intervalStart(utc('2027-03-15'), 'week')).toEqual(utc('2027-03-15'));
    expect(intervalStart(utc('2027-03-21'), 'week')).toEqual(utc('2027-03-15'));
    expect(intervalStart(t, 'month')).toEqual(utc('2027-03-01'));
  });

  it('steps interval starts, across a year', () => {
    expect(addIntervals(utc('2027-12-01'), 'month', 1)).toEqual(utc('2028-01-01'));
    expect(addIntervals(utc('2027-12-27'), 'week', 1)).toEqual(utc('2028-01-03'));
    expect(addIntervals(utc('2027-12-31'), 'day', 2)).toEqual(utc('2028-01-02'));
  });

  it('names partitions by their range start', () => {
    expect(partitionName('log_lines', utc('2027-03-15'))).toBe('log_lines_p20270315');
    expect(tsLiteral(utc('2027-03-15'))).toBe(`'2027-03-15T00:00:00.000Z'::timestamptz`);
    expect(() => tsLiteral(new Date(Number.NaN))).toThrow();
  });
});
