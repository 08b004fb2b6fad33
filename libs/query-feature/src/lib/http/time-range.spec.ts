import { microsToIso, parseIsoTimestamp, ZonedTime } from '@sluice/formats';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ReadingsQueryDto } from '../sensors/sensors.dto';
import { assertRange, toTimestamptzText } from './time-range';

const UTC = new ZonedTime('UTC');
const accepted = (from: string) => validateSync(plainToInstance(ReadingsQueryDto, { from })).length === 0;

// One rule: a timestamp a file can hold (the long-CSV and JSON parser) is a timestamp a query can name.
describe('time-range parameters', () => {
  it.each([
    '2013-01-05 10:00:00+00:00',
    '2013-01-05T10:00:00Z',
    '2013-01-05T10:00Z',
    '2013-01-05 10:00:00',
    '2013-01-05T10:00:00.123456789+05:30',
    '2013-01-05T10:00:00,5-04',
    '2013-01-05 10:00:00 +0100',
    '0001-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '2012-02-29T00:00:00Z',
    '2013-02-29T00:00:00Z',
    '2013-01-05T24:00:00Z',
    '2013-01-05T10:00:00+16:00',
    '99999-01-01T00:00:00Z',
    '0000-12-31T00:00:00Z',
    '9999-12-31T23:59:59-15:00',
    '2013-W01',
    '1357380000',
    'yesterday',
    '',
  ])('%p: accepted by the query API exactly when the loader accepts it, at the same instant', (text) => {
    const loaded = parseIsoTimestamp(text, UTC);
    expect(accepted(text)).toBe(!Number.isNaN(loaded));
    if (!Number.isNaN(loaded)) expect(toTimestamptzText(text)).toBe(microsToIso(loaded));
  });

  it('also takes a bare date, meaning its midnight UTC, and nothing outside 0001..9999', () => {
    expect(accepted('2013-01-05')).toBe(true);
    expect(toTimestamptzText('2013-01-05')).toBe('2013-01-05T00:00:00.000000Z');
    for (const bad of ['2013-02-30', '0000-01-01', '10000-01-01', '+002013-01-05']) expect([bad, accepted(bad)]).toEqual([bad, false]);
  });

  it('compares from and to to the microsecond', () => {
    expect(() => assertRange('2013-01-05T00:00:00.000002Z', '2013-01-05T00:00:00.000001Z')).toThrow('to: must not be before from');
    expect(() => assertRange('2013-01-05 01:00+01', '2013-01-05T00:00:00Z')).not.toThrow();
  });
});
