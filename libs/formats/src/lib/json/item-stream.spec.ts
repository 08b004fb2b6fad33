import { Readable } from 'node:stream';
import { INVALID_BYTE_MARK, JsonSyntaxError, streamDocumentItems, textProblem, type DocumentItem, type StreamedEnd } from '../../index';

/** Feeds `chunks` (or `text` cut every `every` bytes) and collects what the stream gives. */
async function read(input: string | Buffer | Buffer[], opts: { key?: string | string[]; every?: number; maxItemBytes?: number; maxDepth?: number; maxDocumentBytes?: number } = {}) {
  let chunks: Buffer[];
  if (Array.isArray(input)) chunks = input;
  else {
    const buf = typeof input === 'string' ? Buffer.from(input) : input;
    const every = opts.every ?? buf.length;
    chunks = [];
    for (let i = 0; i < buf.length; i += every) chunks.push(buf.subarray(i, i + every));
  }
  const it = streamDocumentItems(Readable.from(chunks), opts.key ?? 'items', { maxItemBytes: opts.maxItemBytes ?? 1024, maxDepth: opts.maxDepth, maxDocumentBytes: opts.maxDocumentBytes });
  const items: DocumentItem[] = [];
  let end: StreamedEnd | undefined;
  let error: JsonSyntaxError | undefined;
  try {
    for (let r = await it.next(); ; r = await it.next()) {
      if (r.done) {
        end = r.value;
        break;
      }
      items.push(...r.value);
    }
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    error = e;
  }
  return { items, end, error, values: items.map((i) => i.value) };
}

describe(streamDocumentItems.name, () => {
  const doc = '{\n  "items": [\n    {"a": 1},\n    {\n      "a": "x\\"y",\n      "b": [3,\n 4]\n    },\n    7\n  ]\n}\n';

  it.each([1, 3, 7, 1000])('yields the items with their index, line and text, whatever the chunk size (%i bytes)', async (every) => {
    const { items, end, error } = await read(doc, { every });
    expect(error).toBeUndefined();
    expect(items.map((i) => [i.value, i.index, i.line])).toEqual([
      [{ a: 1 }, 0, 3],
      [{ a: 'x"y', b: [3, 4] }, 1, 4],
      [7, 2, 9],
    ]);
    expect(JSON.parse(items[1].text())).toEqual(items[1].value);
    expect(end).toMatchObject({ doc: { top: {}, streamed: true, repeatedKey: false } });
  });

  it('drops a leading BOM, even one cut by the chunk boundary', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"items": [1]}')]);
    expect((await read(bytes, { every: 1 })).values).toEqual([1]);
  });

  it('keeps the shape of the rest of the document for the shape check, with the line of each member', async () => {
    const { end } = await read('{"x": {"deep": [1]},\n "items": [],\n "y": "s", "items": [2]}');
    expect(end).toMatchObject({ doc: { top: { x: {}, y: 's' }, streamed: true, repeatedKey: true } });
    expect(end && 'lineOf' in end && [end.lineOf('x'), end.lineOf('y'), end.lineOf(undefined)]).toEqual([1, 3, 1]);
    expect((await read('{"items": {"a": {"b": 1}}}')).end).toMatchObject({ doc: { top: { items: {} }, streamed: false } });
    expect((await read('{"items": {"a": {"b": 1}}}')).items).toEqual([]);
  });

  it('stops at the first token of a document that is not an object', async () => {
    expect((await read('[1, 2, {')).end).toMatchObject({ doc: { top: [], streamed: false } });
    expect((await read('"just a string"')).end).toMatchObject({ doc: { top: 'just a string' } });
  });

  it('names the line and column of a syntax error, after the items before it', async () => {
    const r = await read('{"items": [\n  {"a": 1},\n  {"a": x}\n]}', { every: 5 });
    expect(r.values).toEqual([{ a: 1 }]);
    expect(r.error).toMatchObject({ rule: 'invalid_json', line: 3, column: 9 });
    expect((await read('{"items": [1 2]}')).error).toMatchObject({ rule: 'invalid_json', line: 1, column: 14 });
    expect((await read('{"items": [NaN]}')).error?.message).toContain('NaN and Infinity are not JSON numbers');
    expect((await read('{"items": []} x')).error).toMatchObject({ rule: 'invalid_json' });
    expect((await read('{"items": []}\n\n  ')).error).toBeUndefined();
  });

  it('tells a truncated document from a malformed one', async () => {
    for (const t of ['{"items": [1, 2', '{"items": ["abc', '{"items": [tr', '{"items"', '{"items": [1,\n']) {
      expect((await read(t, { every: 4 })).error).toMatchObject({ rule: 'truncated_json' });
    }
    expect((await read('{"items": [1,\n')).error).toMatchObject({ line: 2 });
  });

  it('refuses an empty document', async () => {
    expect((await read(' \n ')).end).toEqual({ reject: expect.objectContaining({ rule: 'empty_file' }) });
  });

  it('reads past leading whitespace longer than maxItemBytes (it holds nothing), with the lines of what follows', async () => {
    for (const lead of [' '.repeat(5000), '\n'.repeat(5000), ' \r\n\t'.repeat(2000)]) {
      const r = await read(`\uFEFF${lead}{"items": [{"a": 1}]}`, { maxItemBytes: 1000, every: 256 });
      expect(r.values).toEqual([{ a: 1 }]);
      expect(r.items[0].line).toBe(1 + (lead.match(/\n/g)?.length ?? 0));
      expect(r.end).toMatchObject({ doc: expect.anything() });
    }
    expect((await read(' '.repeat(5000), { maxItemBytes: 1000, every: 256 })).end).toEqual({ reject: expect.objectContaining({ rule: 'empty_file' }) });
  });

  it('gives the paths of members an item names twice (the value keeps the last), not those of other items or the top level', async () => {
    const r = await read('{"items": [{"a": 1, "a": 2}, {"a": 1, "n": [{"b": 1}, {"b": 1, "b": 2}]}, {"a": 1}, 5, "a"]}', { every: 3 });
    expect(r.items.map((i) => i.duplicates)).toEqual([[['a']], [['n', 1, 'b']], [], [], []]);
    expect(r.values[0]).toEqual({ a: 2 });
  });

  it('refuses nesting deeper than the limit, at its position, without overflowing the stack', async () => {
    const deep = (n: number) => `{"items": [${'['.repeat(n)}${']'.repeat(n)}]}`;
    expect((await read(deep(62), { maxDepth: 64 })).error).toBeUndefined();
    expect((await read(deep(63), { maxDepth: 64 })).error).toMatchObject({ rule: 'json_too_deep', line: 1, column: 74 });
    expect((await read(`{"items": [${'['.repeat(1_000_000)}`, { maxDepth: 64, maxItemBytes: 10_000_000 })).error).toMatchObject({ rule: 'json_too_deep' });
  });

  it('refuses an item, a member or a string larger than maxItemBytes without holding it', async () => {
    const big = await read(`{"items": [{"a": 1},\n{"a": "${'x'.repeat(5000)}"}]}`, { maxItemBytes: 1000, every: 256 });
    expect(big.values).toEqual([{ a: 1 }]);
    expect(big.end).toEqual({ reject: expect.objectContaining({ rule: 'too_long', line: 2 }) });
    const many = await read(`{"items": [${'1,'.repeat(1000)}1]}`, { maxItemBytes: 100 });
    expect([many.items.length, many.end]).toEqual([1001, expect.objectContaining({ doc: expect.anything() })]); // many small items are fine
    expect((await read(`{"other": [${'1,'.repeat(1000)}1], "items": []}`, { maxItemBytes: 100 })).end).toMatchObject({ reject: { rule: 'too_long' } });
    expect((await read(`{"${'k'.repeat(5000)}": 1}`, { maxItemBytes: 1000, every: 100 })).end).toMatchObject({ reject: { rule: 'too_long' } });
  });

  it('reads a string with a byte that is not UTF-8 as holding a mark, so only its item is refused', async () => {
    const bytes = Buffer.concat([Buffer.from('{"items": [{"a": "x'), Buffer.from([0xff]), Buffer.from('y"}, {"a": "é€😀"}]}')]);
    const { values, error } = await read(bytes, { every: 3 });
    expect(error).toBeUndefined();
    expect(values).toEqual([{ a: `x${INVALID_BYTE_MARK}y` }, { a: 'é€😀' }]);
    expect(textProblem((values[0] as { a: string }).a)).toBe('invalid_utf8');
  });

  it('follows a path of member names to the items, whatever the chunk size', async () => {
    const doc = '{"meta": {"station": "N", "units": ["C"]},\n "data": {\n  "count": 2,\n  "readings": [\n   {"t": 1},\n   {"t": 2}\n  ],\n  "after": 1\n }\n}';
    for (const every of [1, 5, 1000]) {
      const r = await read(doc, { key: ['data', 'readings'], every });
      expect(r.error).toBeUndefined();
      expect(r.items.map((i) => [i.value, i.line])).toEqual([
        [{ t: 1 }, 5],
        [{ t: 2 }, 6],
      ]);
      expect(r.end).toMatchObject({ doc: { streamed: true, repeatedKey: false } });
    }
    expect((await read('{"data": {"readings": {"t": 1}}}', { key: ['data', 'readings'] })).end).toMatchObject({ doc: { streamed: false } });
    expect((await read('{"data": [{"readings": [1]}]}', { key: ['data', 'readings'] })).end).toMatchObject({ doc: { streamed: false } });
    expect((await read('{"data": {"other": [1]}, "readings": [2]}', { key: ['data', 'readings'] })).items).toEqual([]);
  });

  it('bounds members beside a nested path as it bounds top-level ones', async () => {
    const r = await read(`{"data": {"other": [${'1,'.repeat(1000)}1], "readings": [1]}}`, { key: ['data', 'readings'], maxItemBytes: 100 });
    expect(r.end).toMatchObject({ reject: { rule: 'too_long' } });
  });

  it('reads the items of a document that is an array itself with an empty path, and nothing of an object', async () => {
    const r = await read('[\n {"a": 1},\n 2\n]', { key: [], every: 3 });
    expect(r.items.map((i) => [i.value, i.line])).toEqual([
      [{ a: 1 }, 2],
      [2, 3],
    ]);
    expect(r.end).toMatchObject({ doc: { streamed: true } });
    expect((await read('{"items": [1]}', { key: [] })).end).toMatchObject({ doc: { top: {}, streamed: false } });
    expect((await read('[1, 2', { key: [] })).error).toMatchObject({ rule: 'truncated_json' });
  });

  it('refuses a document beyond the safety limit', async () => {
    expect((await read('{"items": [1, 2, 3]}', { maxDocumentBytes: 10, every: 8 })).end).toMatchObject({ reject: { rule: 'file_too_large' } });
  });
});
