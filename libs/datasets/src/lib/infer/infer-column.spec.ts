import { columnNameFromSource, inferColumn } from './infer-column';
import { fits } from './values';

describe('columnNameFromSource', () => {
  it.each([
    ['Temperatur', 'temperatur'],
    ['Wind Speed (m/s)', 'wind_speed_m_s'],
    ['meta.id', 'meta_id'],
    ['2nd value', '_2nd_value'],
    ['observedAt', 'observed_at'],
    ['Größe', 'gro_e'],
    ['***', 'column'],
    ['x'.repeat(100), 'x'.repeat(63)],
  ])('%s → %s', (source, name) => {
    expect(columnNameFromSource(source)).toBe(name);
  });
});

describe('inferColumn', () => {
  it('reads true/false and yes/no words as bool, but not 0/1', () => {
    expect(inferColumn('active', ['true', 'False', 'yes', 'NO', '']).type).toBe('bool');
    expect(inferColumn('active', [true, false]).type).toBe('bool');
    expect(inferColumn('active', ['0', '1']).type).toBe('int');
  });

  it('reads whole numbers as int within 32 bits and bigint beyond', () => {
    expect(inferColumn('n', ['1', '-42', '2147483647']).type).toBe('int');
    expect(inferColumn('n', ['1', '2147483648']).type).toBe('bigint');
    expect(inferColumn('n', [1, 9_007_199_254_740_991]).type).toBe('bigint');
    expect(inferColumn('n', ['1', '9223372036854775808']).type).toBe('float');
  });

  it('reads numbers with a fraction as float, with a decimal comma only when told', () => {
    expect(inferColumn('t', ['12.5', '-3', '1e3']).type).toBe('float');
    expect(inferColumn('t', [12.5, 3]).type).toBe('float');
    expect(inferColumn('t', ['12,5', '-3,25', '1.234,5'], { decimalComma: true }).type).toBe('float');
    expect(inferColumn('t', ['12,5', '-3,25']).type).toBe('text');
  });

  it('keeps integers with leading zeros as text: they are codes', () => {
    const column = inferColumn('zip', ['01067', '10115']);
    expect(column.type).toBe('text');
    expect(column.reason).toContain('"01067"');
  });

  it('reads dates in ISO, German and slashed forms', () => {
    expect(inferColumn('d', ['2024-03-29', '2024-02-29'])).toMatchObject({ type: 'date', formats: ['iso'] });
    expect(inferColumn('d', ['29.03.2024', '1.4.2024'])).toMatchObject({ type: 'date', formats: ['dd.MM.yyyy', 'd.M.yyyy'] });
    expect(inferColumn('d', ['29/03/2024', '01/04/2024'])).toMatchObject({ type: 'date', formats: ['dd/MM/yyyy'] });
  });

  it('reads slashed dates month first only when a value proves it, and says when it is ambiguous', () => {
    expect(inferColumn('d', ['03/29/2024', '04/01/2024'])).toMatchObject({ type: 'date', formats: ['MM/dd/yyyy'] });
    const ambiguous = inferColumn('d', ['03/04/2024', '05/06/2024']);
    expect(ambiguous).toMatchObject({ type: 'date', formats: ['dd/MM/yyyy'] });
    expect(ambiguous.reason).toContain('ambiguous');
  });

  it('reads ISO timestamps, naive when they name no offset', () => {
    expect(inferColumn('t', ['2024-03-29T10:00:00Z', '2024-03-29T11:00:00+01:00'])).toMatchObject({
      type: 'timestamptz',
      formats: ['iso'],
      naive: false,
    });
    expect(inferColumn('t', ['2024-03-29T10:00:00', '2024-03-29T10:15'])).toMatchObject({ type: 'timestamptz', formats: ['iso'], naive: true });
  });

  it('reads local times written with Luxon formats, listing the formats the values use', () => {
    expect(inferColumn('zeit', ['29.03.2024 10:00', '29.03.2024 10:15:30'])).toMatchObject({
      type: 'timestamptz',
      formats: ['dd.MM.yyyy HH:mm:ss', 'dd.MM.yyyy HH:mm'],
      naive: true,
    });
    expect(inferColumn('t', ['2024-03-31 02:30:00'])).toMatchObject({ type: 'timestamptz', formats: ['yyyy-MM-dd HH:mm:ss'], naive: true });
    expect(inferColumn('t', ['29/03/2024 10:00'])).toMatchObject({ type: 'timestamptz', formats: ['dd/MM/yyyy HH:mm'] });
    expect(inferColumn('t', ['2024-03-29 10:00:00+01:00'])).toMatchObject({ type: 'timestamptz', naive: false });
  });

  it('reads epoch seconds and milliseconds only when the name says time', () => {
    expect(inferColumn('ts', ['1711706400', '1711710000'])).toMatchObject({ type: 'timestamptz', formats: ['epoch_s'], naive: false });
    expect(inferColumn('event_time', [1711706400000, 1711710000123])).toMatchObject({ type: 'timestamptz', formats: ['epoch_ms'] });
    expect(inferColumn('count', ['1711706400']).type).toBe('int');
    expect(inferColumn('ts', ['42', '43']).type).toBe('int');
  });

  it('reads JSON objects and arrays as jsonb', () => {
    expect(inferColumn('meta', [{ a: 1 }, [1, 2], null]).type).toBe('jsonb');
  });

  it('falls back to text, naming the value that spoiled a nearly numeric column', () => {
    const column = inferColumn('pressure', ['1013.2', '1009.8', 'n/a', '1011.0']);
    expect(column.type).toBe('text');
    expect(column.reason).toContain('"n/a"');
    expect(inferColumn('x', ['', null, undefined])).toMatchObject({ type: 'text', required: false });
  });

  it('records required, examples and rows seen', () => {
    expect(inferColumn('Station', ['A', 'B', 'A', 'C', 'D'])).toMatchObject({
      source: 'Station',
      name: 'station',
      required: true,
      examples: ['A', 'B', 'C'],
      rowsSeen: 5,
    });
    expect(inferColumn('v', ['1', ' ', '2']).required).toBe(false);
  });
});

describe('fits', () => {
  it('agrees with inference on what each type takes', () => {
    expect(fits('int', '2147483648')).toBe(false);
    expect(fits('bigint', '2147483648')).toBe(true);
    expect(fits('float', '1.234,5', { decimalComma: true })).toBe(true);
    expect(fits('float', 'n/a')).toBe(false);
    expect(fits('timestamptz', '29.03.2024 10:00')).toBe(false);
    expect(fits('timestamptz', '29.03.2024 10:00', { formats: ['dd.MM.yyyy HH:mm'] })).toBe(true);
    expect(fits('date', '2024-03-29')).toBe(true);
    expect(fits('text', { a: 1 })).toBe(false);
    expect(fits('jsonb', '{"a":1}')).toBe(true);
    expect(fits('int', '')).toBe(true);
  });
});
