import { Readable } from 'node:stream';
import {
  duplicateKeys,
  INVALID_BYTE_MARK,
  JsonSyntaxError,
  parseJson,
  readJsonDocument,
  readLines,
  readMappingCsv,
  readWideCsv,
  SENSOR_NAME_MAX,
  streamedShapeProblem,
  textProblem,
  validateDocument,
  validateItem,
  validateLine,
  type RawLine,
  type StreamedDocument,
} from '../../index';

const syntax = (text: string, maxDepth?: number) => {
  try {
    parseJson(text, { maxDepth });
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { rule: e.rule, line: e.line, column: e.column, message: e.message };
    throw e;
  }
  return null;
};

describe(parseJson.name, () => {
  it('parses like JSON.parse', () => {
    for (const t of ['{"a":[1,-2.5e3,true,false,null,"x\\"y\\u00e9\\n"],"b":{}}', '[]', '0', '"s"', '{"__proto__":{"x":1}}']) {
      expect(parseJson(t).value).toEqual(JSON.parse(t));
    }
    expect(Object.getPrototypeOf(parseJson('{"__proto__":{"x":1}}').value)).toBe(Object.prototype);
  });

  it('finds the line of members and elements by path, the nearest ancestor for a missing one', () => {
    const text = '{\n  "v": [\n    {"a": 1},\n    {\n      "a": "x\\"y",\n      "b": [3,\n 4]\n    }\n  ],\n  "w": 1\n}';
    const lines = parseJson(text).linesOf([['v'], ['v', 0], ['v', 1, 'b'], ['v', 1, 'b', 1], ['v', 1, 'zzz'], ['w'], []]);
    expect(Object.fromEntries(lines)).toEqual({ v: 2, 'v[0]': 3, 'v[1].b': 6, 'v[1].b[1]': 7, 'v[1].zzz': 4, w: 10, '': 1 });
    expect(parseJson('{"a":1}', { firstLine: 12 }).linesOf([['a']]).get('a')).toBe(12);
  });

  it('reads exactly the numbers of the JSON grammar, the longest one at each place', () => {
    // The grammar as a regular expression, against the parser's scan over every short token of number characters.
    const grammar = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
    const alphabet = ['-', '+', '.', 'e', 'E', '0', '1', '9'];
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const tokens = ['0', '-0', '01', '1.', '.5', '1.e5', '1e', '1e+', '-', '--1', '1E5', '1.5e-3', '-12.5E+10', '123456789012345678901234567890'];
    for (let i = 0; i < 3000; i++) tokens.push(Array.from({ length: 1 + rand(8) }, () => alphabet[rand(alphabet.length)]).join(''));
    for (const t of tokens) {
      let parsed: unknown;
      try {
        parsed = parseJson(`[${t}]`).value;
      } catch (e) {
        parsed = e instanceof JsonSyntaxError ? 'refused' : e;
      }
      expect([t, parsed]).toEqual([t, grammar.test(t) ? [Number(t)] : 'refused']);
    }
    // A number reads 400 characters at most.
    expect(parseJson(`[${'1'.repeat(400)}]`).value).toEqual([Number('1'.repeat(400))]);
    expect(() => parseJson(`[${'1'.repeat(401)}]`)).toThrow(/expected "," or "]" in an array/);
  });

  it('reads NaN and Infinity as numbers so validation can name them', () => {
    expect(parseJson('[NaN, Infinity, -Infinity]').value).toEqual([NaN, Infinity, -Infinity]);
  });

  it('tells truncated from malformed, with line and column', () => {
    for (const t of ['{"a": [1, 2', '{"a": "abc', '{"a": tr', '{"a"', '[1,', '{"a": -']) expect(syntax(t)).toMatchObject({ rule: 'truncated_json' });
    expect(syntax('{\n  "a": 1,\n  "b": x\n}')).toMatchObject({ rule: 'invalid_json', line: 3, column: 8 });
    expect(syntax('{"a": 1} 2')).toMatchObject({ rule: 'invalid_json' });
    expect(syntax('{"a": 01}')).toMatchObject({ rule: 'invalid_json' });
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    expect(syntax('['.repeat(65) + ']'.repeat(65))).toMatchObject({ rule: 'json_too_deep', line: 1, column: 65 });
    expect(syntax('['.repeat(64) + ']'.repeat(64))).toBeNull();
    expect(syntax('['.repeat(100000))).toMatchObject({ rule: 'json_too_deep' });
  });
});

describe(streamedShapeProblem.name, () => {
  it('checks the shape left after streaming', () => {
    const shape = (doc: StreamedDocument) => streamedShapeProblem('vehicle_status', doc);
    expect(shape({ top: {}, streamed: true, repeatedKey: false })).toBeNull();
    expect(shape({ top: { x: 1 }, streamed: true, repeatedKey: false })).toMatchObject({ field: 'x', rule: 'unknown_field' });
    expect(shape({ top: {}, streamed: false, repeatedKey: false })).toMatchObject({ field: 'vehicle_status', rule: 'missing_field' });
    expect(shape({ top: { vehicle_status: 3 }, streamed: false, repeatedKey: false })).toMatchObject({ field: 'vehicle_status', rule: 'invalid_document' });
  });
});

describe(validateDocument.name, () => {
  const vehicles = (items: unknown[]) => ({ vehicle_status: items });
  const good = { vehicle_id: 'v1', report_time: '2022-05-05T22:02:34.546Z', status: 'driving' };

  it('accepts the seed shapes', () => {
    expect(validateDocument('vehicle_status', vehicles([good]))).toEqual([]);
    expect(validateDocument('detections', { objects_detection_events: [{ vehicle_id: 'v', detection_time: '2022-06-05T21:02:34.546Z', detections: [{ object_type: 'cars', object_value: 2 }] }] })).toEqual([]);
    expect(validateDocument('measurement', { time_stamp: '2019-05-01T06:00:00-04:00', data: [0.37, 1.58] })).toEqual([]);
  });

  it('names the field of each problem with its path', () => {
    const problems = validateDocument('vehicle_status', vehicles([good, good, { ...good, report_time: 'yesterday' }, { vehicle_id: 'v', status: 'x', color: 'red' }]));
    expect(problems.map((p) => [p.field, p.rule])).toEqual([
      ['vehicle_status[2].report_time', 'invalid_timestamp'],
      ['vehicle_status[3].color', 'unknown_field'],
      ['vehicle_status[3].report_time', 'missing_field'],
    ]);
    expect(problems[0].message).toContain('vehicle_status[2].report_time "yesterday" is not an ISO-8601 date-time');
    expect(problems[0].value).toBe('"yesterday"');
  });

  it('leaves out members named __proto__ and constructor, as class-transformer does, in plain and nested shapes alike', () => {
    const hostile = '"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}';
    const parsed = (text: string) => parseJson(text).value;
    expect(validateDocument('measurement', parsed(`{${hostile}, "time_stamp": "2019-05-02T06:00:00-04:00", "data": [1, 2]}`))).toEqual([]);
    expect(validateDocument('vehicle_status', parsed(`{"vehicle_status": [{${hostile}, "vehicle_id": "v1", "report_time": "2022-05-05T22:02:34Z", "status": "driving"}]}`))).toEqual([]);
    const detection = `{${hostile}, "vehicle_id": "v", "detection_time": "2022-06-05T21:02:34Z", "detections": [{${hostile}, "object_type": "cars", "object_value": 2}]}`;
    expect(validateDocument('detections', parsed(`{"objects_detection_events": [${detection}]}`))).toEqual([]);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // Still refused as what they hold, not as the members left out.
    expect(validateDocument('measurement', parsed(`{${hostile}, "time_stamp": "2019-05-02T06:00:00-04:00", "data": [1, "x"]}`)).map((p) => [p.field, p.rule])).toEqual([['data[1]', 'not_a_number']]);
  });

  it('validates nested detections: non-negative integers, no unknown fields', () => {
    const doc = { objects_detection_events: [{ vehicle_id: 'v', detection_time: '2022-06-05T21:02:34Z', detections: [{ object_type: 'cars', object_value: -1 }, { object_type: 'x', object_value: 1.5, extra: 1 }] }] };
    expect(validateDocument('detections', doc).map((p) => [p.field, p.rule])).toEqual([
      ['objects_detection_events[0].detections[0].object_value', 'out_of_range'],
      ['objects_detection_events[0].detections[1].extra', 'unknown_field'],
      ['objects_detection_events[0].detections[1].object_value', 'not_an_integer'],
    ]);
  });

  it('refuses measurements without offset, with empty or non-numeric data', () => {
    const m = (over: object) => validateDocument('measurement', { time_stamp: '2019-05-01T06:00:00-04:00', data: [1], ...over }).map((p) => [p.field, p.rule]);
    expect(m({ time_stamp: '2019-05-01T06:00:00' })).toEqual([['time_stamp', 'invalid_timestamp']]);
    expect(m({ data: [] })).toEqual([['data', 'empty_array']]);
    expect(m({ data: [1, NaN, '1.2', null, 2] })).toEqual([
      ['data[1]', 'not_a_number'],
      ['data[2]', 'not_a_number'],
      ['data[3]', 'not_a_number'],
    ]);
    expect(m({ data: 'x' })).toEqual([['data', 'invalid_type']]);
  });

  it('refuses other top-level keys and a non-list of items', () => {
    expect(validateDocument('vehicle_status', { vehicle_status: [], other: 1 })).toMatchObject([{ field: 'other', rule: 'unknown_field' }]);
    expect(validateDocument('vehicle_status', { vehicle_status: {} })).toMatchObject([{ field: 'vehicle_status', rule: 'invalid_document' }]);
    expect(validateDocument('vehicle_status', vehicles(['x']))).toMatchObject([{ field: 'vehicle_status[0]', rule: 'invalid_type' }]);
  });
});

describe(validateItem.name, () => {
  const vs = (vehicle_id: string, status = 'driving') => ({ vehicle_id, report_time: '2022-05-05T22:02:34.546Z', status });

  it('refuses text PostgreSQL cannot store: NUL as invalid_character, a lone surrogate or a byte that was not UTF-8 as invalid_utf8', () => {
    expect(validateItem('vehicle_status', JSON.parse('{"vehicle_id":"a\\u0000b","report_time":"2022-05-05T22:02:34.546Z","status":"x"}'), ['vehicle_status', 0])).toEqual([
      expect.objectContaining({ field: 'vehicle_status[0].vehicle_id', rule: 'invalid_character', value: '"a\\u0000b"' }),
    ]);
    expect(validateItem('vehicle_status', vs('a', 'dr\ud800')).map((p) => [p.field, p.rule])).toEqual([['status', 'invalid_utf8']]);
    expect(validateItem('vehicle_status', vs(`a${INVALID_BYTE_MARK}`)).map((p) => [p.field, p.rule])).toEqual([['vehicle_id', 'invalid_utf8']]);
    expect(validateItem('vehicle_status', vs('emoji \ud83d\ude00 and é'))).toEqual([]);
    const detection = { vehicle_id: 'v', detection_time: '2022-05-05T22:02:34.546Z', detections: [{ object_type: 'car\u0000', object_value: 1 }] };
    expect(validateItem('detections', detection).map((p) => [p.field, p.rule])).toEqual([['detections[0].object_type', 'invalid_character']]);
  });
});

describe(validateLine.name, () => {
  it('applies the same text rule to NDJSON lines', () => {
    const r = validateLine({ kind: 'sensor_reading', sensor: 'd\u0000/temp', ts: '2020-07-12T00:01:34Z', value: 1 });
    expect('problems' in r && r.problems.map((p) => [p.field, p.rule])).toEqual([['sensor', 'invalid_character']]);
  });

  it('routes by kind and validates each kind', () => {
    expect(validateLine({ kind: 'sensor_reading', sensor: 's1', ts: '2024-01-01T00:00:00+01:00', value: 1.5 })).toMatchObject({ kind: 'sensor_reading' });
    expect(validateLine({ kind: 'sensor_reading', sensor: 's1', ts: '2024-01-01T00:00:00', value: '1.5' })).toMatchObject({
      problems: [{ field: 'ts', rule: 'invalid_timestamp' }, { field: 'value', rule: 'not_a_number' }],
    });
    expect(validateLine({ kind: 'teleport' })).toMatchObject({ problems: [{ field: 'kind', rule: 'unknown_kind' }] });
    expect(validateLine({ vehicle_id: 'v' })).toMatchObject({ problems: [{ field: 'kind', rule: 'missing_field' }] });
  });
});

describe('members named twice in one object', () => {
  it('are found with their paths, however escaped, and only within one object', () => {
    expect(duplicateKeys('{"a":1,"a":2}')).toEqual([['a']]);
    expect(duplicateKeys('{"x":[{"b":1},{"b":1,"c":{"d":1,"e":"}{,\\"d\\"[","d":2}}]}')).toEqual([['x', 1, 'c', 'd']]);
    expect(duplicateKeys('{"a\\u0062":1,"ab":2,"q\\\\":1,"q\\\\":2}')).toEqual([['ab'], ['q\\']]);
    expect(duplicateKeys('[{"a":1},{"a":1},{"b":{"a":1},"a":2}]')).toEqual([]);
    expect(duplicateKeys('{"__proto__":1,"__proto__":2,"toString":1}')).toEqual([['__proto__']]);
  });

  it('refuse the NDJSON line or the document item as duplicate_key, first among its problems; the items key twice refuses the document', () => {
    const vs = (status: string) => ({ vehicle_id: 'v', report_time: '2022-05-05T22:02:34.546Z', status });
    const line = '{"kind":"sensor_reading","sensor":"a/b","ts":"2024-01-01T00:00:00Z","value":1,"value":"x"}';
    expect(validateLine(JSON.parse(line), [], duplicateKeys(line))).toEqual({
      problems: [
        expect.objectContaining({ field: 'value', rule: 'duplicate_key', message: 'value is given more than once in its object; give each field once', value: null }),
        expect.objectContaining({ field: 'value', rule: 'not_a_number' }),
      ],
    });
    const doc = `{"vehicle_status":[${JSON.stringify(vs('a'))},{"vehicle_id":"w","status":"a","report_time":"2022-05-05T22:02:34.546Z","status":"b"}]}`;
    expect(validateDocument('vehicle_status', JSON.parse(doc), duplicateKeys(doc))).toEqual([expect.objectContaining({ field: 'vehicle_status[1].status', rule: 'duplicate_key' })]);
    const twice = '{"vehicle_status":[],"vehicle_status":[]}';
    expect(validateDocument('vehicle_status', JSON.parse(twice), duplicateKeys(twice))).toEqual([expect.objectContaining({ field: 'vehicle_status', rule: 'invalid_document' })]);
    const m = '{"time_stamp":"2019-05-01T06:00:00-04:00","time_stamp":"2019-05-01T07:00:00-04:00","data":[1]}';
    expect(validateDocument('measurement', JSON.parse(m), duplicateKeys(m))).toEqual([expect.objectContaining({ field: 'time_stamp', rule: 'duplicate_key' })]);
  });
});

describe('one sensor-name rule whatever the input', () => {
  const line = (sensor: string) => validateLine({ kind: 'sensor_reading', sensor, ts: '2024-01-01T00:00:00Z', value: 1 });
  const rows = async <T>(gen: AsyncGenerator<{ rows: T[]; rejects: Array<{ line: number; column: string | null; rule: string; message: string }> }>) => {
    const out = { rows: [] as T[], rejects: [] as Array<{ line: number; column: string | null; rule: string; message: string }> };
    for await (const b of gen) {
      out.rows.push(...b.rows);
      out.rejects.push(...b.rejects);
    }
    return out;
  };
  const wide = (device: string) => readWideCsv(Readable.from([Buffer.from(`ts,device,temp\n1.5E9,${device},1\n`)]), { ranges: {}, naiveTimeZone: 'UTC' });
  const mapping = (name: string) => readMappingCsv(Readable.from([Buffer.from(`sensor_uuid;sensor_name\n0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab;${name}\n`)]));

  it('takes names of SENSOR_NAME_MAX characters (a surrogate pair is one) from NDJSON, a wide CSV and a mapping CSV', async () => {
    const emoji = '\u{1F321}'.repeat(SENSOR_NAME_MAX - 5); // 195 characters, 390 UTF-16 units
    expect(line('x'.repeat(SENSOR_NAME_MAX))).toMatchObject({ kind: 'sensor_reading' });
    expect(line(`${emoji}/temp`)).toMatchObject({ kind: 'sensor_reading' });
    expect((await rows(wide('d'.repeat(SENSOR_NAME_MAX - 5)))).rows).toHaveLength(1);
    expect((await rows(wide(emoji))).rows).toHaveLength(1);
    expect((await rows(mapping('m'.repeat(SENSOR_NAME_MAX)))).rows).toHaveLength(1);
  });

  it('refuses one character more as a row error too_long, with line, column and the same message, in every input', async () => {
    const long = 'd'.repeat(3000);
    const message = expect.stringMatching(/is 3005 characters long; a sensor name may have at most 200 \(SENSOR_NAME_MAX\)$/);
    expect(line(`${long}/temp`)).toEqual({ problems: [expect.objectContaining({ field: 'sensor', rule: 'too_long', message })] });
    expect(line('x'.repeat(SENSOR_NAME_MAX + 1))).toEqual({ problems: [expect.objectContaining({ rule: 'too_long' })] });
    expect((await rows(wide(long))).rejects).toEqual([expect.objectContaining({ line: 2, column: 'device', rule: 'too_long', message })]);
    expect((await rows(wide('d'.repeat(SENSOR_NAME_MAX - 4)))).rejects).toEqual([expect.objectContaining({ rule: 'too_long' })]);
    expect((await rows(mapping(`${long}/temp`))).rejects).toEqual([expect.objectContaining({ line: 2, column: 'sensor_name', rule: 'too_long', message })]);
    expect(line('')).toEqual({ problems: [expect.objectContaining({ rule: 'empty_value' })] });
  });

  it('refuses a wide header whose metric alone makes every name too long', async () => {
    const metric = 'm'.repeat(SENSOR_NAME_MAX - 1);
    await expect(rows(readWideCsv(Readable.from([Buffer.from(`ts,device,${metric}\n1.5E9,d,1\n`)]), { ranges: {}, naiveTimeZone: 'UTC' }))).rejects.toMatchObject({
      reason: { rule: 'invalid_header', message: expect.stringContaining('column 3') },
    });
  });
});

describe(readLines.name, () => {
  const all = async (chunks: (string | Buffer)[], max = 100, loneCr = false) => {
    const out: RawLine[] = [];
    for await (const b of readLines(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), max, { loneCr })) out.push(...b);
    return out;
  };

  it('with loneCr, ends a line at a lone CR too, and a CRLF split between chunks is one line end', async () => {
    const expected = ['a', 'b', '', 'c', 'd', 'e'].map((text, i) => ({ line: i + 1, text }));
    expect(await all(['a\rb\r', '\rc\r', '\nd\r\ne'], 100, true)).toEqual(expected);
    expect(await all(['a\rb\r\rc\r\nd\r\ne'], 100, true)).toEqual(expected);
    expect(await all(['x'.repeat(150), '\ry\r'], 100, true)).toEqual([
      { line: 1, error: 'line_too_long', bytes: 150 },
      { line: 2, text: 'y' },
    ]);
    // Without it (NDJSON), a CR is part of its line.
    expect(await all(['a\rb\n'])).toEqual([{ line: 1, text: 'a\rb' }]);
  });

  it('splits across chunks, accepts CRLF and a BOM, keeps a last line without newline', async () => {
    expect(await all(['\uFEFFab', 'c\r\nd', 'e\n\nf'])).toEqual([
      { line: 1, text: 'abc' },
      { line: 2, text: 'de' },
      { line: 3, text: '' },
      { line: 4, text: 'f' },
    ]);
  });

  it('reports too long lines without holding them, and invalid UTF-8 per line', async () => {
    const out = await all(['ok\n', 'x'.repeat(60), 'x'.repeat(60), 'x'.repeat(60), '\nfine\n', Buffer.from([0x61, 0xff, 0x0a])], 100);
    expect(out).toEqual([
      { line: 1, text: 'ok' },
      { line: 2, error: 'line_too_long', bytes: 180 },
      { line: 3, text: 'fine' },
      { line: 4, error: 'invalid_utf8', byteOffset: 1 },
    ]);
  });
});

describe(readJsonDocument.name, () => {
  const read = (text: string | Buffer, maxBytes?: number) => readJsonDocument(Readable.from([typeof text === 'string' ? Buffer.from(text) : text]), { maxBytes });

  it('parses, or refuses with a reason and a position', async () => {
    expect(await read('{"a":1}')).toHaveProperty('value', { a: 1 });
    expect(await read('{"a":1}', 3)).toMatchObject({ reject: { rule: 'file_too_large' } });
    expect(await read('  \n')).toMatchObject({ reject: { rule: 'empty_file' } });
    expect(await read('{\n"a": [1,\n')).toMatchObject({ reject: { rule: 'truncated_json', line: 3 } });
  });

  it('reads a string holding bytes that are not UTF-8 with a mark, so only its item is refused', async () => {
    const doc = Buffer.concat([Buffer.from('{\n"a": "x'), Buffer.from([0xff]), Buffer.from('y"}')]);
    const parsed = await read(doc);
    expect(parsed).toHaveProperty('value', { a: `x${INVALID_BYTE_MARK}y` });
    expect(textProblem((parsed as { value: { a: string } }).value.a)).toBe('invalid_utf8');
  });
});
