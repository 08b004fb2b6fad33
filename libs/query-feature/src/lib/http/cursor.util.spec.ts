import { ApiException } from '@sluice/http';
import { decodeLedgerCursor, decodeTsCursor, encodeLedgerCursor, encodeTsCursor } from './cursor.util';

describe('cursor.util', () => {
  it('round-trips a microsecond timestamp', () => {
    const ts = '2024-03-01T12:00:00.123456Z';
    expect(decodeTsCursor(encodeTsCursor(ts))).toBe(ts);
  });

  it('round-trips a ledger position', () => {
    const pos = { createdAt: '2024-03-01T12:00:00.000001Z', id: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10' };
    expect(decodeLedgerCursor(encodeLedgerCursor(pos.createdAt, pos.id))).toEqual(pos);
  });

  it.each(['', 'not a cursor', '!!!', encodeTsCursor('2024-03-01T12:00:00Z'), encodeTsCursor('2024-13-01T12:00:00.000000Z'), `${encodeTsCursor('2024-03-01T12:00:00.123456Z')}x`])(
    'refuses %p with 400 naming cursor',
    (bad) => {
      let error: unknown;
      try {
        decodeTsCursor(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ApiException);
      expect((error as ApiException).getStatus()).toBe(400);
      expect((error as ApiException).details).toEqual([{ parameter: 'cursor', message: expect.any(String) }]);
    },
  );

  it('refuses a readings cursor where a ledger cursor is expected', () => {
    expect(() => decodeLedgerCursor(encodeTsCursor('2024-03-01T12:00:00.123456Z'))).toThrow(ApiException);
  });
});
