import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ReadRanges } from './read-ranges.util';

const whole = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
const claim = { sha256: createHash('sha256').update(whole).digest('hex'), size: whole.length };
const drain = async (r: Readable) => {
  for await (const _ of r) void _;
};
/** The bytes in chunks of `size`, as a GET delivers them. */
const chunked = (b: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

describe(ReadRanges.name, () => {
  it('proves ranges read out of order, overlapping and across chunks, against one read of the claimed version', async () => {
    const sut = new ReadRanges();
    for (const [start, end] of [[30, 36], [0, 4], [2, 20], [10, 11]]) await drain(sut.tap({ start, end }, Readable.from([whole.subarray(start, end)])));
    expect(await sut.verify(chunked(whole, 7), claim)).toBe(true);
  });

  it('finds a range whose bytes were of another version, though the object read now is the claimed one', async () => {
    const sut = new ReadRanges();
    await drain(sut.tap({ start: 5, end: 9 }, Readable.from([Buffer.from('XXXX')])));
    expect(await sut.verify(chunked(whole, 7), claim)).toBe(false);
  });

  it('finds an object that is not the claimed version now', async () => {
    const sut = new ReadRanges();
    await drain(sut.tap({ start: 0, end: 4 }, Readable.from([whole.subarray(0, 4)])));
    expect(await sut.verify(chunked(Buffer.concat([whole.subarray(0, 30), Buffer.from('ZZZZZZ')]), 7), claim)).toBe(false);
  });
});
