import type { ContractColumn } from '../contract';
import type { ColumnContext, ColumnValue } from './column-value';
import { compileColumn } from './compile-column';

const NO_ZONE: ColumnContext = { decimalComma: false };
const BERLIN: ColumnContext = { decimalComma: false, timezone: 'Europe/Berlin' };

function column(over: Partial<ContractColumn>): ContractColumn {
  return { source: 'ts', name: 'ts', type: 'timestamptz', required: false, ambiguous: 'reject', ...over };
}

function read(over: Partial<ContractColumn>, raw: unknown, ctx: ColumnContext = BERLIN): ColumnValue {
  return compileColumn(column(over), ctx)(raw);
}

function text(over: Partial<ContractColumn>, raw: unknown, ctx: ColumnContext = BERLIN): string | null {
  const result = read(over, raw, ctx);
  if (!result.ok) throw new Error(`${String(raw)} was refused: ${result.message}`);
  return result.text;
}

describe('timestamptz', () => {
  describe('iso', () => {
    it('takes the offset a value names and ignores the zone', () => {
      expect(text({}, '2024-03-31T02:30:00+02:00')).toBe('2024-03-31T00:30:00.000000Z');
      expect(text({}, '2024-06-01 12:00:00.123456Z')).toBe('2024-06-01T12:00:00.123456Z');
      expect(text({}, '2024-06-01T12:00-0530')).toBe('2024-06-01T17:30:00.000000Z');
      expect(text({}, '2024-06-01T12:00:00,5+01')).toBe('2024-06-01T11:00:00.500000Z');
      expect(text({}, ' 2024-06-01T12:00Z ', NO_ZONE)).toBe('2024-06-01T12:00:00.000000Z');
    });

    it("reads a naive time in the column's zone, else the contract's", () => {
      expect(text({}, '2024-06-01T12:00')).toBe('2024-06-01T10:00:00.000000Z');
      expect(text({}, '2024-01-15 12:00:00')).toBe('2024-01-15T11:00:00.000000Z');
      expect(text({}, '2024-06-01')).toBe('2024-05-31T22:00:00.000000Z');
      expect(text({ timezone: 'America/New_York' }, '2024-06-01T12:00')).toBe('2024-06-01T16:00:00.000000Z');
      expect(text({ timezone: 'America/New_York' }, '2024-06-01T12:00', NO_ZONE)).toBe('2024-06-01T16:00:00.000000Z');
    });

    it('refuses a naive time when no zone is named', () => {
      expect(read({}, '2024-06-01T12:00', NO_ZONE)).toEqual({
        ok: false,
        rule: 'invalid_timestamp',
        message:
          'ts "2024-06-01T12:00" has no offset and the contract names no timezone; ' +
          'write the offset in the value (+02:00, Z) or set timezone on the contract or the column',
      });
    });

    it('refuses local times the clock change skips, and doubles unless the column picks one', () => {
      expect(read({}, '2024-03-31 02:30')).toEqual({
        ok: false,
        rule: 'tz_gap',
        message: 'ts "2024-03-31 02:30": 02:30 on 2024-03-31 does not exist in Europe/Berlin: clocks jumped from 02:00 to 03:00',
      });
      expect(read({}, '2024-10-27 02:30')).toMatchObject({ ok: false, rule: 'tz_ambiguous' });
      expect(text({ ambiguous: 'earlier' }, '2024-10-27 02:30')).toBe('2024-10-27T00:30:00.000000Z');
      expect(text({ ambiguous: 'later' }, '2024-10-27 02:30')).toBe('2024-10-27T01:30:00.000000Z');
    });

    it('refuses what is no timestamp or no day of the calendar', () => {
      expect(read({}, 'yesterday')).toEqual({
        ok: false,
        rule: 'invalid_timestamp',
        message: 'ts "yesterday" is not a timestamp in its format, ISO 8601 (such as 2024-03-31T14:30:00+02:00)',
      });
      for (const raw of ['2024-02-30T10:00Z', '2023-02-29', '2024-06-01T24:00Z', '2024-06-01T12:00+16:00', '2024-6-1', true, { t: 1 }]) {
        expect(read({}, raw)).toMatchObject({ ok: false, rule: 'invalid_timestamp' });
      }
      expect(text({}, '2024-02-29T10:00Z')).toBe('2024-02-29T10:00:00.000000Z');
    });
  });

  describe('Luxon formats', () => {
    const german = { formats: ['dd.MM.yyyy HH:mm'] };

    it('reads dd.MM.yyyy HH:mm in the zone, gaps refused', () => {
      expect(text(german, '31.03.2024 14:30')).toBe('2024-03-31T12:30:00.000000Z');
      expect(text(german, '15.01.2024 08:05')).toBe('2024-01-15T07:05:00.000000Z');
      expect(read(german, '31.03.2024 02:30')).toMatchObject({ ok: false, rule: 'tz_gap' });
      expect(read(german, '2024-03-31T14:30:00Z')).toEqual({
        ok: false,
        rule: 'invalid_timestamp',
        message: 'ts "2024-03-31T14:30:00Z" is not a timestamp in its format, "dd.MM.yyyy HH:mm" (such as 31.03.2024 14:30)',
      });
      expect(read(german, '31.02.2024 10:00')).toMatchObject({ ok: false, rule: 'invalid_timestamp' });
    });

    it('takes the offset a format names, whatever the zone', () => {
      expect(text({ formats: ['yyyy-MM-dd HH:mm ZZ'] }, '2024-03-31 02:30 +05:00')).toBe('2024-03-30T21:30:00.000000Z');
      expect(text({ formats: ['yyyy-MM-dd HH:mm ZZ'] }, '2024-03-31 02:30 +05:00', NO_ZONE)).toBe('2024-03-30T21:30:00.000000Z');
    });

    it("reads a quoted 'Z' or 'UTC' as UTC, not as the zone's local time", () => {
      expect(text({ formats: ["yyyy-MM-dd'T'HH:mm:ss'Z'"] }, '2024-03-31T02:30:00Z')).toBe('2024-03-31T02:30:00.000000Z');
      expect(text({ formats: ["dd.MM.yyyy HH:mm 'UTC'"] }, '31.03.2024 02:30 UTC', NO_ZONE)).toBe('2024-03-31T02:30:00.000000Z');
    });

    it('tries formats in order', () => {
      const formats = { formats: ['epoch_s', 'dd.MM.yyyy HH:mm', 'iso'] };
      expect(text(formats, '1711888200')).toBe('2024-03-31T12:30:00.000000Z');
      expect(text(formats, '31.03.2024 14:30')).toBe('2024-03-31T12:30:00.000000Z');
      expect(text(formats, '2024-03-31T14:30+02:00')).toBe('2024-03-31T12:30:00.000000Z');
      expect(read(formats, 'soon')).toMatchObject({
        message: expect.stringContaining('is not a timestamp in any of its formats: epoch seconds (such as 1711888200); "dd.MM.yyyy HH:mm"'),
      });
    });

    it('refuses a column whose format or zone cannot be used when it is compiled', () => {
      expect(() => compileColumn(column({ formats: ['yyyy-MM-dd HH:mm ZZZZ'] }), BERLIN)).toThrow(/column ts: the time format/);
      expect(() => compileColumn(column({ timezone: 'Europe/Atlantis' }), BERLIN)).toThrow(
        'column ts: the time zone "Europe/Atlantis" is not an IANA time zone; write one such as Europe/Berlin, America/New_York or UTC',
      );
    });
  });

  describe('epoch', () => {
    it('reads epoch seconds and milliseconds from numbers and numeric text, to the microsecond', () => {
      expect(text({ formats: ['epoch_s'] }, '1711888200', NO_ZONE)).toBe('2024-03-31T12:30:00.000000Z');
      expect(text({ formats: ['epoch_s'] }, 1711888200.5, NO_ZONE)).toBe('2024-03-31T12:30:00.500000Z');
      expect(text({ formats: ['epoch_s'] }, '1711888200.123456', NO_ZONE)).toBe('2024-03-31T12:30:00.123456Z');
      expect(text({ formats: ['epoch_ms'] }, 1711888200123, NO_ZONE)).toBe('2024-03-31T12:30:00.123000Z');
      expect(text({ formats: ['epoch_ms'] }, '-1000', NO_ZONE)).toBe('1969-12-31T23:59:59.000000Z');
    });

    it('refuses text that is no number and instants beyond the year 9999', () => {
      expect(read({ formats: ['epoch_s'] }, '1711888200s', NO_ZONE)).toMatchObject({ ok: false, rule: 'invalid_timestamp' });
      expect(read({ formats: ['epoch_s'] }, '1e12', NO_ZONE)).toEqual({
        ok: false,
        rule: 'invalid_timestamp',
        message: 'ts "1e12" is outside the years 1 to 9999',
      });
    });
  });
});

describe('date', () => {
  const date = (over: Partial<ContractColumn>) => ({ type: 'date' as const, ...over });

  it('reads ISO dates of the calendar', () => {
    expect(text(date({}), '2024-02-29')).toBe('2024-02-29');
    for (const raw of ['2023-02-29', '2024-13-01', '2024-00-10', '0000-01-01', '2024-06-01T00:00', '1.6.2024', 20240601]) {
      expect(read(date({}), raw)).toMatchObject({ ok: false, rule: 'invalid_date' });
    }
    expect(read(date({}), 'June')).toEqual({
      ok: false,
      rule: 'invalid_date',
      message: 'ts "June" is not a date in its format, ISO 8601 (such as 2024-03-31)',
    });
  });

  it('reads Luxon formats', () => {
    expect(text(date({ formats: ['dd.MM.yyyy'] }), '31.03.2024')).toBe('2024-03-31');
    expect(text(date({ formats: ['d MMMM yyyy', 'iso'] }), '5 June 2024')).toBe('2024-06-05');
    expect(read(date({ formats: ['dd.MM.yyyy'] }), '31.02.2024')).toMatchObject({ ok: false, rule: 'invalid_date' });
  });

  it("gives an epoch instant's date in the zone, UTC when none is named", () => {
    expect(text(date({ formats: ['epoch_s'] }), 1711929600, NO_ZONE)).toBe('2024-04-01');
    expect(text(date({ formats: ['epoch_s'], timezone: 'America/New_York' }), '1711929600', NO_ZONE)).toBe('2024-03-31');
    expect(text(date({ formats: ['epoch_ms'] }), 1711929600000, BERLIN)).toBe('2024-04-01');
  });
});
