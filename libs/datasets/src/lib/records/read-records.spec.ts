import { Readable } from 'node:stream';
import type { ContractFormat, CsvFormat } from '../contract';
import { readRecords, sampleRecords } from './read-records';
import type { RecordLimits } from './record-batch';
import { recordColumns, valueAt } from './record-columns';

const LIMITS: RecordLimits = { maxLineBytes: 1000, maxColumns: 20 };
const CSV: CsvFormat = { type: 'csv', delimiter: ',', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0 };

/** A stream of `count` chunks of `line`s, counting the chunks read. */
function lines(count: number, line: (i: number) => string) {
  const read = { chunks: 0 };
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) {
        read.chunks++;
        yield Buffer.from(`${line(i)}\n`);
      }
    })(),
  );
  return { stream, read };
}

describe(sampleRecords.name, () => {
  it('takes the first records of a file, then stops reading and closes it', async () => {
    const { stream, read } = lines(10_000, (i) => (i === 0 ? 'id,name' : `${i},n${i}`));
    const sample = await sampleRecords(stream, CSV, LIMITS, 5);
    expect(sample.header).toEqual(['id', 'name']);
    expect(sample.records.map((r) => r.values)).toEqual([1, 2, 3, 4, 5].map((i) => [`${i}`, `n${i}`]));
    expect(sample.truncated).toBe(true);
    expect(read.chunks).toBeLessThan(20);
    expect(stream.destroyed).toBe(true);
  });

  it('says when the file had no more than was asked for', async () => {
    const sample = await sampleRecords(lines(3, (i) => `{"i": ${i}}`).stream, { type: 'ndjson' }, LIMITS, 3);
    expect(sample.records).toHaveLength(3);
    expect(sample.truncated).toBe(false);
  });

  it('keeps at most as many rejects as records asked for, and stops at a file of nothing else', async () => {
    const { stream } = lines(10_000, () => '[1]');
    const sample = await sampleRecords(stream, { type: 'ndjson' }, LIMITS, 4);
    expect(sample.records).toEqual([]);
    expect(sample.rejects.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    expect(sample.truncated).toBe(true);
  });

  it('closes a JSON document stopped early', async () => {
    const stream = Readable.from((function* () {
      yield Buffer.from('{"data": {"readings": [');
      for (let i = 0; i < 10_000; i++) yield Buffer.from(`${i ? ',' : ''}\n{"i": ${i}, "meta": {"id": "m${i}"}}`);
      yield Buffer.from(']}}');
    })());
    const format: ContractFormat = { type: 'json', recordsPath: 'data.readings' };
    const sample = await sampleRecords(stream, format, LIMITS, 2);
    expect(sample.records).toEqual([
      { line: 2, values: { i: 0, meta: { id: 'm0' } } },
      { line: 3, values: { i: 1, meta: { id: 'm1' } } },
    ]);
    expect(sample.truncated).toBe(true);
    expect(stream.destroyed).toBe(true);
  });
});

describe(readRecords.name, () => {
  it('reads NDJSON of a line kind up to the first line naming another kind, which ends it as mixed_kinds', async () => {
    const { stream, read } = lines(10, (i) => (i === 0 ? '' : JSON.stringify({ kind: i === 3 ? 'weather' : 'orders', id: i })));
    const batches = [];
    for await (const batch of readRecords(stream, { type: 'ndjson', lineKind: 'orders' }, LIMITS)) batches.push(batch);
    const records = batches.flatMap((b) => b.records);
    const rejects = batches.flatMap((b) => b.rejects);
    expect(records.map((r) => r.line)).toEqual([2, 3]);
    expect(rejects).toEqual([expect.objectContaining({ line: 4, column: 'kind', rule: 'mixed_kinds' })]);
    expect(rejects[0].message).toContain('"weather"');
    expect(read.chunks).toBeLessThan(10);
  });

  it('reads NDJSON of a line kind whose lines all name it as plain NDJSON', async () => {
    const { stream } = lines(3, (i) => JSON.stringify({ kind: 'orders', id: i }));
    const records = [];
    for await (const batch of readRecords(stream, { type: 'ndjson', lineKind: 'orders' }, LIMITS)) records.push(...batch.records, ...batch.rejects);
    expect(records).toEqual([1, 2, 3].map((line) => ({ line, values: { kind: 'orders', id: line - 1 } })));
  });
});

describe(recordColumns.name, () => {
  it('gives the CSV header', () => {
    expect(recordColumns({ header: ['a', 'b'], records: [{ line: 2, values: ['1', '2'] }] })).toEqual(['a', 'b']);
  });

  it('gives the dotted leaf paths of JSON records in first-seen order, arrays, nulls and empty objects as leaves', () => {
    const records = [
      { line: 1, values: { meta: { id: 'x', tags: ['a'] }, value: 1 } },
      { line: 2, values: { value: 2, extra: null, meta: { id: 'y', deep: { z: true } }, empty: {} } },
    ];
    expect(recordColumns({ records })).toEqual(['meta.id', 'meta.tags', 'value', 'extra', 'meta.deep.z', 'empty']);
  });

  it('lists at most maxColumns paths', () => {
    const values = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(recordColumns({ records: [{ line: 1, values }] }, 10)).toHaveLength(10);
  });
});

describe(valueAt.name, () => {
  const record = { meta: { id: 'x', n: 0, 'a.b': 'dotted', nothing: null }, value: 1.5, list: [1, 2] };

  it('reads the value at a dotted path, whatever it is', () => {
    expect(valueAt(record, 'meta.id')).toBe('x');
    expect(valueAt(record, 'meta.n')).toBe(0);
    expect(valueAt(record, 'meta.nothing')).toBeNull();
    expect(valueAt(record, 'value')).toBe(1.5);
    expect(valueAt(record, 'list')).toEqual([1, 2]);
    expect(valueAt(record, 'meta')).toEqual(record.meta);
  });

  it('finds a member whose name holds a dot', () => {
    expect(valueAt(record, 'meta.a.b')).toBe('dotted');
  });

  it('is undefined where there is nothing, inherited members included', () => {
    expect(valueAt(record, 'meta.missing')).toBeUndefined();
    expect(valueAt(record, 'value.x')).toBeUndefined();
    expect(valueAt(record, 'list.0')).toBeUndefined();
    expect(valueAt(record, 'constructor')).toBeUndefined();
    expect(valueAt(record, 'meta.toString')).toBeUndefined();
  });
});
