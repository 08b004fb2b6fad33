import { decodeMarked, firstInvalidUtf8, INVALID_BYTE_MARK, storable, TextWatch, textProblem } from '../../index';

const M = INVALID_BYTE_MARK;

describe(textProblem.name, () => {
  it('names NUL and lone surrogates; any other text passes', () => {
    expect(textProblem('a\u0000b')).toBe('invalid_character');
    expect(textProblem('a\ud800')).toBe('invalid_utf8');
    expect(textProblem('\udc00a')).toBe('invalid_utf8');
    expect(textProblem('emoji \ud83d\ude00, é, \uFFFD, tab\t')).toBeNull();
    expect(storable('a\u0000b\ud800')).toBe('a\uFFFDb\uFFFD');
  });
});

describe(decodeMarked.name, () => {
  const b = (...xs: Array<number | string>) => Buffer.concat(xs.map((x) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from([x]))));

  it('decodes valid UTF-8 as is, without a BOM', () => {
    expect(decodeMarked(b(0xef, 0xbb, 0xbf, 'é€\ud83d\ude00'))).toBe('é€\ud83d\ude00');
  });

  it('marks every byte that is not part of a valid sequence: stray, overlong, surrogate, past U+10FFFF, cut', () => {
    expect(decodeMarked(b('a', 0xff, 'b'))).toBe(`a${M}b`);
    expect(decodeMarked(b(0xc0, 0xaf))).toBe(`${M}${M}`); // overlong "/"
    expect(decodeMarked(b(0xed, 0xa0, 0x80, 'x'))).toBe(`${M}${M}${M}x`); // an encoded surrogate
    expect(decodeMarked(b(0xf4, 0x90, 0x80, 0x80))).toBe(`${M}${M}${M}${M}`);
    expect(decodeMarked(b('x', 0xe2, 0x82))).toBe(`x${M}${M}`);
    expect(firstInvalidUtf8(b('ab', 0xe2, 0x82, 0xac, 0xff), 2)).toBe(5);
  });
});

describe(TextWatch.name, () => {
  const watch = (chunks: Buffer[]) => {
    const w = new TextWatch();
    for (const c of chunks) w.push(c);
    w.end();
    return { invalidUtf8: w.invalidUtf8, nul: w.nul };
  };
  const euro = Buffer.from('a€b€');

  it('does not flag a character cut between chunks, at any cut', () => {
    for (let i = 1; i < euro.length; i++) for (let j = i + 1; j < euro.length; j++) {
      expect(watch([euro.subarray(0, i), euro.subarray(i, j), euro.subarray(j)])).toEqual({ invalidUtf8: false, nul: false });
    }
    expect(watch([euro.subarray(0, 2), euro.subarray(2, 3), euro.subarray(3)])).toEqual({ invalidUtf8: false, nul: false });
  });

  it('flags bytes that are not UTF-8, a sequence cut by the end of the stream, and NUL', () => {
    expect(watch([Buffer.from('ok'), Buffer.from([0x61, 0xff])]).invalidUtf8).toBe(true);
    expect(watch([Buffer.from([0xe2]), Buffer.from([0x41, 0x41])]).invalidUtf8).toBe(true);
    expect(watch([euro.subarray(0, 2)]).invalidUtf8).toBe(true);
    expect(watch([Buffer.from('a'), Buffer.from([0x62, 0, 0x63])])).toEqual({ invalidUtf8: false, nul: true });
  });
});
