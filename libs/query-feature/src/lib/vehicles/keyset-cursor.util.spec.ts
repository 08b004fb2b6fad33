import { ApiException } from '@sluice/http';
import { decodeKeyset, encodeKeyset } from './keyset-cursor.util';

describe('keyset-cursor.util', () => {
  it('round-trips a (timestamp, text, text) position', () => {
    const pos = ['2022-05-05T22:02:34.546000Z', 'veh/1 "x"', 'cars'];
    expect(decodeKeyset(encodeKeyset(pos), ['ts', 'text', 'text'])).toEqual(pos);
  });

  it.each([
    ['garbage', 'not a cursor!'],
    ['wrong arity', encodeKeyset(['a'])],
    ['bad timestamp', encodeKeyset(['2022-05-05', 'v', 'cars'])],
    ['not json', Buffer.from('[oops').toString('base64url')],
    ['numbers', Buffer.from('[1,2,3]').toString('base64url')],
  ])('refuses %s with 400 naming cursor', (_, bad) => {
    let error: unknown;
    try {
      decodeKeyset(bad, ['ts', 'text', 'text']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException).details).toEqual([{ parameter: 'cursor', message: expect.any(String) }]);
  });
});
