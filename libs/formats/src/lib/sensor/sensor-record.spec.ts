import { isUuid, microsToIso, parseDecimal, parseEpochSeconds, parseIsoTimestamp, parseWideValue, rangeProblem, ZonedTime } from '../../index';

const utc = new ZonedTime('UTC');
const iso = (text: string, zone = utc) => {
  const us = parseIsoTimestamp(text, zone);
  return Number.isNaN(us) ? 'NaN' : microsToIso(us);
};

describe('sensor record rules', () => {
  it('parses epoch seconds to integer microseconds, keeping sub-millisecond digits', () => {
    expect(parseEpochSeconds('1.5945120943859746E9')).toBe(1594512094385975);
    expect(microsToIso(parseEpochSeconds('1.5945120943859746E9'))).toBe('2020-07-12T00:01:34.385975Z');
    expect(microsToIso(parseEpochSeconds('0.0000015'))).toBe('1970-01-01T00:00:00.000002Z');
    expect(microsToIso(-1)).toBe('1969-12-31T23:59:59.999999Z');
    for (const bad of ['', ' ', 'abc', '1e400', 'Infinity', '0x10', '1,5', '99999999999999']) expect(parseEpochSeconds(bad)).toBeNaN();
  });

  it('reads values: decimals, True/False for wide CSV, nothing else', () => {
    expect(parseDecimal('19.700000762939453')).toBe(19.700000762939453);
    expect(parseDecimal('-1.5e-3')).toBe(-0.0015);
    expect(parseWideValue('True')).toBe(1);
    expect(parseWideValue('False')).toBe(0);
    for (const bad of ['', 'INVALID', 'NaN', '1e999', ' 1', '0b1', '--1']) expect(parseWideValue(bad)).toBeNaN();
    expect(parseDecimal('True')).toBeNaN();
  });

  it('checks ranges inclusively and explains a miss', () => {
    expect(rangeProblem(50, 'temp', { min: -50, max: 50 })).toBeNull();
    expect(rangeProblem(-100, 'temp', { min: -50, max: 50 })).toMatchObject({ rule: 'out_of_range', message: expect.stringContaining('-50..50') });
  });

  it('parses ISO-8601 with offsets', () => {
    expect(iso('2012-12-31 23:07:00+00:00')).toBe('2012-12-31T23:07:00.000000Z');
    expect(iso('2019-05-01T06:00:00-04:00')).toBe('2019-05-01T10:00:00.000000Z');
    expect(iso('2019-05-01T06:00:00.1234567Z')).toBe('2019-05-01T06:00:00.123457Z');
    expect(iso('2019-05-01T06:00+0530')).toBe('2019-05-01T00:30:00.000000Z');
    for (const bad of ['2013-13-45 99:00:00', '2013-02-29 00:00:00', '2013-01-05', 'x', '', '2013-01-05 24:00:00']) expect(iso(bad)).toBe('NaN');
    expect(iso('2012-02-29 00:00:00')).toBe('2012-02-29T00:00:00.000000Z');
  });

  it('reads naive timestamps in the configured zone, across DST like PostgreSQL', () => {
    const ny = new ZonedTime('America/New_York');
    expect(iso('2013-01-05 10:00:00', ny)).toBe('2013-01-05T15:00:00.000000Z');
    expect(iso('2013-07-05 10:00:00', ny)).toBe('2013-07-05T14:00:00.000000Z');
    // clock set back: the ambiguous 01:30 is read in standard time; clock set forward: 02:30 moves on by the gap
    expect(iso('2024-11-03 01:30:00', ny)).toBe('2024-11-03T06:30:00.000000Z');
    expect(iso('2024-03-10 02:30:00', ny)).toBe('2024-03-10T07:30:00.000000Z');
    const berlin = new ZonedTime('Europe/Berlin');
    expect(iso('2024-10-27 02:30:00', berlin)).toBe('2024-10-27T01:30:00.000000Z');
    expect(iso('2024-03-31 02:30:00', berlin)).toBe('2024-03-31T01:30:00.000000Z');
    expect(iso('2024-03-31 03:30:00', berlin)).toBe('2024-03-31T01:30:00.000000Z');
    expect(iso('2013-01-05 10:00:00', new ZonedTime('Asia/Kolkata'))).toBe('2013-01-05T04:30:00.000000Z');
    // an offset in the text wins over the zone
    expect(iso('2013-01-05 10:00:00+00:00', ny)).toBe('2013-01-05T10:00:00.000000Z');
  });

  it('recognises UUIDs', () => {
    expect(isUuid('0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab')).toBe(true);
    expect(isUuid('0B8E3F2C-1A2B-4C3D-8E9F-0123456789AB')).toBe(true);
    expect(isUuid('sensor-abc123')).toBe(false);
    expect(isUuid('0b8e3f2c1a2b4c3d8e9f0123456789ab')).toBe(false);
  });
});
