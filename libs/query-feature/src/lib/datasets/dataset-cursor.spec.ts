import type { ColumnType } from '@sluice/datasets';
import { ApiException } from '@sluice/http';
import { decodeDatasetCursor, encodeDatasetCursor } from './dataset-cursor';

const refused = (values: unknown[], types: ColumnType[]) => {
  try {
    decodeDatasetCursor(encodeDatasetCursor(values), types);
  } catch (e) {
    return e instanceof ApiException && e.getStatus() === 400;
  }
  return false;
};

describe('dataset cursors', () => {
  it('give back the key values of the row they were made from, as text PostgreSQL casts back', () => {
    const types: ColumnType[] = ['text', 'int', 'bigint', 'float', 'numeric', 'bool', 'timestamptz', 'date', 'jsonb'];
    const row = ['a,"b"', 42, '9223372036854775807', 0.1 + 0.2, '12345678901234567890.25', true, '2024-03-31T01:30:00.000001Z', '2024-02-29', { a: [1, 'x'] }];
    expect(decodeDatasetCursor(encodeDatasetCursor(row), types)).toEqual(['a,"b"', '42', '9223372036854775807', '0.30000000000000004', '12345678901234567890.25', 'true', '2024-03-31T01:30:00.000001Z', '2024-02-29', '{"a":[1,"x"]}']);
    expect(decodeDatasetCursor(encodeDatasetCursor([-1.5e-7, Number.NaN, -Infinity]), ['float', 'float', 'float'])).toEqual(['-1.5e-7', 'NaN', '-Infinity']);
  });

  it('refuse a value its column type could not hold, with a 400', () => {
    expect(refused(['2147483648'], ['int'])).toBe(true);
    expect(refused(['9223372036854775808'], ['bigint'])).toBe(true);
    expect(refused(['1.5'], ['int'])).toBe(true);
    expect(refused(['1e5x'], ['float'])).toBe(true);
    expect(refused(['1e5'], ['numeric'])).toBe(true);
    expect(refused(['yes'], ['bool'])).toBe(true);
    expect(refused(['2024-02-30T00:00:00.000000Z'], ['timestamptz'])).toBe(true);
    expect(refused(['2024-01-01T00:00:00Z'], ['timestamptz'])).toBe(true);
    expect(refused(['2023-02-29'], ['date'])).toBe(true);
    expect(refused(['{'], ['jsonb'])).toBe(true);
    expect(refused(['a\u0000b'], ['text'])).toBe(true);
    expect(refused(['a', 'b'], ['text'])).toBe(true);
    expect(refused(['x'.repeat(9000)], ['text'])).toBe(true);
    expect(refused(['-2147483648'], ['int'])).toBe(false);
  });
});
