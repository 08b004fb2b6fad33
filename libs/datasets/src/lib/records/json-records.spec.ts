import { Readable } from 'node:stream';
import type { ContractFormat } from '../contract';
import { readRecords } from './read-records';
import type { RecordBatch, RecordLimits } from './record-batch';

const LIMITS: RecordLimits = { maxLineBytes: 1000, maxColumns: 20 };
const NDJSON: ContractFormat = { type: 'ndjson' };
const json = (recordsPath: string): ContractFormat => ({ type: 'json', recordsPath });

function chunks(input: string | Buffer, every?: number): Readable {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const size = every ?? Math.max(buf.length, 1);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function readAll(input: Readable, format: ContractFormat, limits: RecordLimits = LIMITS) {
  const batches: RecordBatch[] = [];
  for await (const batch of readRecords(input, format, limits)) batches.push(batch);
  return { batches, records: batches.flatMap((b) => b.records), rejects: batches.flatMap((b) => b.rejects) };
}

describe('readRecords (NDJSON)', () => {
  it('reads one object per line, refuses a bad line in the middle with its line, and reads on', async () => {
    const text = '{"id": 1, "meta": {"ok": true}}\n\n{"id": 2,\n[1, 2]\n{"id": 3, "id": 4}\n  \n{"id": 5}\n';
    const { records, rejects, batches } = await readAll(chunks(text, 6), NDJSON);
    expect(batches.every((b) => b.header === undefined)).toBe(true);
    expect(records).toEqual([
      { line: 1, values: { id: 1, meta: { ok: true } } },
      { line: 7, values: { id: 5 } },
    ]);
    expect(rejects).toEqual([
      expect.objectContaining({ line: 3, rule: 'truncated_json', raw: '{"id": 2,' }),
      expect.objectContaining({ line: 4, rule: 'invalid_type', message: 'line 4: the line is an array, not an object; every record must be a JSON object' }),
      expect.objectContaining({ line: 5, rule: 'duplicate_key', column: 'id' }),
    ]);
  });

  it('refuses a line too long, or not UTF-8, or deeper than maxJsonDepth', async () => {
    const bytes = Buffer.concat([Buffer.from(`{"a": "${'x'.repeat(100)}"}\n{"a": "`), Buffer.from([0xff]), Buffer.from('"}\n{"a": [[[1]]]}\n{"a": 1}\n')]);
    const { records, rejects } = await readAll(chunks(bytes, 8), NDJSON, { ...LIMITS, maxLineBytes: 50, maxJsonDepth: 3 });
    expect(records).toEqual([{ line: 4, values: { a: 1 } }]);
    expect(rejects.map((r) => [r.line, r.rule])).toEqual([
      [1, 'line_too_long'],
      [2, 'invalid_utf8'],
      [3, 'json_too_deep'],
    ]);
  });
});

describe('readRecords (JSON)', () => {
  const doc = [
    '{',
    '  "meta": {"station": "Nord", "units": {"temp": "°C"}},',
    '  "data": {',
    '    "count": 3,',
    '    "readings": [',
    '      {"ts": "2026-03-01T10:00:00Z", "temp": 3.5},',
    '      {',
    '        "ts": "2026-03-01T11:00:00Z",',
    '        "temp": null',
    '      },',
    '      42,',
    '      {"ts": "2026-03-01T12:00:00Z", "temp": -1}',
    '    ]',
    '  }',
    '}',
  ].join('\n');

  it.each([1, 16, 100_000])('streams the items at a dotted recordsPath with the line each starts on, refusing one that is not an object (%i-byte chunks)', async (every) => {
    const { records, rejects } = await readAll(chunks(doc, every), json('data.readings'));
    expect(records).toEqual([
      { line: 6, values: { ts: '2026-03-01T10:00:00Z', temp: 3.5 } },
      { line: 7, values: { ts: '2026-03-01T11:00:00Z', temp: null } },
      { line: 12, values: { ts: '2026-03-01T12:00:00Z', temp: -1 } },
    ]);
    expect(rejects).toEqual([expect.objectContaining({ line: 11, rule: 'invalid_type', raw: '42', message: expect.stringContaining('item 3 of "data.readings" is a number (42), not an object') })]);
  });

  it('reads a document that is the array itself with an empty recordsPath', async () => {
    const { records } = await readAll(chunks('[\n {"a": 1},\n {"a": 2}\n]'), json(''));
    expect(records).toEqual([
      { line: 2, values: { a: 1 } },
      { line: 3, values: { a: 2 } },
    ]);
  });

  it.each([
    ['a path that is not in the document', 'data.values', /no array at "data.values"/],
    ['a path to an object', 'data', /no array at "data"/],
    ['a path through a value that is not an object', 'meta.station.x', /no array at "meta.station.x"/],
    ['an empty path of a document that is an object', '', /the document is not an array/],
  ])('refuses the file once, naming the path, for %s', async (_, path, message) => {
    const { records, rejects } = await readAll(chunks(doc, 32), json(path));
    expect(records).toEqual([]);
    expect(rejects).toEqual([expect.objectContaining({ rule: 'invalid_document', message: expect.stringMatching(message) })]);
  });

  it('refuses only the item whose text is not UTF-8 or holds a NUL, naming the field', async () => {
    const bytes = Buffer.concat([Buffer.from('[{"a": {"b": "x'), Buffer.from([0xff]), Buffer.from('"}},\n{"a": "\\u0000"},\n{"a": "ü"}]')]);
    const { records, rejects } = await readAll(chunks(bytes, 4), json(''));
    expect(records).toEqual([{ line: 3, values: { a: 'ü' } }]);
    expect(rejects).toEqual([expect.objectContaining({ line: 1, rule: 'invalid_utf8', column: 'a.b' }), expect.objectContaining({ line: 2, rule: 'invalid_character', column: 'a' })]);
  });

  it('ends the file at a syntax error after the records before it, with its line', async () => {
    const { records, rejects } = await readAll(chunks('{"data": {"readings": [\n{"a": 1},\n{"a": x}\n]}}', 5), json('data.readings'));
    expect(records).toEqual([{ line: 2, values: { a: 1 } }]);
    expect(rejects).toEqual([expect.objectContaining({ line: 3, rule: 'invalid_json', column: '7' })]);
  });

  it('refuses a record larger than maxLineBytes, and a document larger than maxDocumentBytes, without reading on', async () => {
    const big = await readAll(chunks(`{"data": {"readings": [{"a": 1},\n{"a": "${'x'.repeat(5000)}"}, {"a": 2}]}}`, 256), json('data.readings'));
    expect(big.records).toEqual([{ line: 1, values: { a: 1 } }]);
    expect(big.rejects).toEqual([expect.objectContaining({ line: 2, rule: 'too_long' })]);
    const huge = await readAll(chunks('[{"a": 1}, {"a": 2}, {"a": 3}]', 8), json(''), { ...LIMITS, maxDocumentBytes: 12 });
    expect(huge.rejects).toEqual([expect.objectContaining({ rule: 'file_too_large' })]);
  });
});
