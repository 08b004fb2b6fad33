import { COPY_BINARY_HEADER } from './copy-sink';
import { ReadingTuples } from './reading-tuples';

const FILE_ID = '0b9e2c4e-8f1a-4c3d-9e2f-5a6b7c8d9e0f';

/** Reads tuples back as PostgreSQL's binary COPY input would. */
function decode(buf: Buffer): { sensorId: number; tsMicros: number; value: number; fileId: string }[] {
  const out = [];
  for (let at = 0; at < buf.length; ) {
    expect(buf.readInt16BE(at)).toBe(4);
    expect([buf.readInt32BE(at + 2), buf.readInt32BE(at + 10), buf.readInt32BE(at + 22), buf.readInt32BE(at + 34)]).toEqual([4, 8, 8, 16]);
    const hex = buf.subarray(at + 38, at + 54).toString('hex');
    out.push({
      sensorId: buf.readInt32BE(at + 6),
      tsMicros: Number(buf.readBigInt64BE(at + 14)) + 946_684_800_000_000,
      value: buf.readDoubleBE(at + 26),
      fileId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    });
    at += 54;
  }
  return out;
}

describe('ReadingTuples', () => {
  it('encodes int4, timestamptz (µs since 2000-01-01), float8 and the file uuid', () => {
    const t = new ReadingTuples(FILE_ID);
    const ts = Date.UTC(2020, 6, 12, 0, 1, 34) * 1000 + 385_974;
    t.reserve(2);
    t.add(7, ts, 0.004955938648391245);
    t.add(2_000_000_000, ts + 1, -273.15);
    expect(decode(t.take())).toEqual([
      { sensorId: 7, tsMicros: ts, value: 0.004955938648391245, fileId: FILE_ID },
      { sensorId: 2_000_000_000, tsMicros: ts + 1, value: -273.15, fileId: FILE_ID },
    ]);
  });

  it('keeps times before 2000 and far ahead exact, and stores -0 as 0', () => {
    const t = new ReadingTuples(FILE_ID);
    const before = Date.UTC(1969, 11, 31, 23, 59, 59) * 1000 + 999_999;
    const ahead = Date.UTC(2262, 0, 1) * 1000 + 1;
    t.reserve(3);
    t.add(1, before, -0);
    t.add(1, ahead, 1e308);
    t.add(1, 946_684_800_000_000 - 1, 5e-324);
    const [a, b, c] = decode(t.take());
    expect(a.tsMicros).toBe(before);
    expect(Object.is(a.value, 0)).toBe(true);
    expect([b.tsMicros, b.value]).toEqual([ahead, 1e308]);
    expect([c.tsMicros, c.value]).toEqual([946_684_800_000_000 - 1, 5e-324]);
  });

  it('grows when more is added than reserved, and starts afresh after a take', () => {
    const t = new ReadingTuples(FILE_ID);
    t.reserve(1);
    for (let i = 0; i < 5; i++) {
      t.reserve(1);
      t.add(i, 1_000_000 * i, i);
    }
    const first = t.take();
    expect(decode(first).map((r) => r.sensorId)).toEqual([0, 1, 2, 3, 4]);
    t.reserve(1);
    t.add(9, 0, 9);
    expect(decode(t.take()).map((r) => r.sensorId)).toEqual([9]);
    // The first buffer is not reused: the COPY stream may still hold it.
    expect(decode(first).map((r) => r.sensorId)).toEqual([0, 1, 2, 3, 4]);
  });

  it('throws on a reading text COPY would have refused, rather than store other bytes', () => {
    const t = new ReadingTuples(FILE_ID);
    t.reserve(4);
    expect(() => t.add(undefined as unknown as number, 0, 1)).toThrow('sensor id undefined');
    expect(() => t.add(1, 1.5, 1)).toThrow('time 1.5');
    expect(() => t.add(1, 0, NaN)).toThrow('value NaN');
    t.add(1, 0, 1);
    expect(decode(t.take())).toHaveLength(1);
  });

  it('refuses a file id that is not a uuid, and has the signature PostgreSQL expects', () => {
    expect(() => new ReadingTuples('not-a-uuid')).toThrow('is not a uuid');
    expect(COPY_BINARY_HEADER.toString('latin1')).toBe('PGCOPY\n\xff\r\n\0' + '\0'.repeat(8));
  });
});
