import { Readable } from 'node:stream';
import { DETECT_MAX_BLANK_BYTES, detectionHead, detectKind, headIsEnough, readDetectionHead, type KindDetector } from '../../index';

const d = (text: string | Buffer, name = 'f.dat') => detectKind(typeof text === 'string' ? Buffer.from(text) : text, name);

describe(detectKind.name, () => {
  it.each([
    ['"ts","device","co","humidity"\n"1.5E9","a","0.1","50"\n', 'sensor_wide_csv'],
    ['ts;device;temp\n', 'sensor_wide_csv'],
    ['ts\tdevice\ttemp\r\n', 'sensor_wide_csv'],
    ['\uFEFFts,device,temp\n', 'sensor_wide_csv'],
    [';timestamp;sensor_uuid;sensor_value\n0;2013-01-05 10:00:00;x;1\n', 'sensor_long_csv'],
    ['timestamp;sensor_uuid;sensor_value\n', 'sensor_long_csv'],
    ['sensor_uuid;sensor_name\n', 'sensor_mapping_csv'],
    ['{"vehicle_status":[{"vehicle_id":"a"}]}', 'vehicle_status'],
    ['{"objects_detection_events":[]}', 'detections'],
    ['{"time_stamp":"2019-05-01T06:00:00-04:00","data":[0.3', 'measurement'],
    ['{"kind":"measurement","time_stamp":"x","data":[1]}\n{"kind":"vehicle_status"}\n', 'ndjson'],
    ['\n\r\n{"kind":"measurement","time_stamp":"x","data":[1]}\n', 'ndjson'],
    ['\n\n{"vehicle_status":[]}', 'vehicle_status'],
  ])('detects %j as %s', (text, kind) => {
    expect(d(text)).toEqual({ kind });
  });

  it('refuses empty and whitespace-only files as empty_file', () => {
    expect(d('')).toMatchObject({ reject: { rule: 'empty_file' } });
    expect(d(' \n\t\r\n')).toMatchObject({ reject: { rule: 'empty_file' } });
    expect(d('\uFEFF')).toMatchObject({ reject: { rule: 'empty_file' } });
  });

  it('refuses invalid UTF-8 under a structured name, but not a character cut at the end of the head', () => {
    expect(d(Buffer.concat([Buffer.from('hello w'), Buffer.from([0xf6]), Buffer.from('rld\n')]), 'f.csv')).toMatchObject({ reject: { rule: 'invalid_utf8' } });
    const cut = Buffer.concat([Buffer.from('ts,device,temp\n1,"é'), Buffer.from('€').subarray(0, 2)]);
    expect(d(cut)).toEqual({ kind: 'sensor_wide_csv' });
  });

  it('detects a file whose records hold a NUL or bytes that are not UTF-8 (those records become row errors)', () => {
    expect(d(Buffer.from('ts,device,temp\n1,a,2\n1,b\u0000,2\n'))).toEqual({ kind: 'sensor_wide_csv' });
    expect(d(Buffer.concat([Buffer.from('ts,device,temp\n1,a,2\n1,'), Buffer.from([0xff, 0xfe]), Buffer.from(',2\n')]))).toEqual({ kind: 'sensor_wide_csv' });
    expect(d(Buffer.concat([Buffer.from('{"kind":"sensor_reading","sensor":"'), Buffer.from([0xff]), Buffer.from('"}\n')]))).toEqual({ kind: 'ndjson' });
  });

  it('refuses a sensor header holding a NUL or bytes that are not UTF-8 (they would become sensor names)', () => {
    expect(d('ts,device,te\u0000mp\n')).toMatchObject({ reject: { rule: 'invalid_header' } });
    expect(d('ts,device,te\u0001mp\n')).toMatchObject({ reject: { rule: 'invalid_header', message: expect.stringContaining('control character') } });
    expect(d(Buffer.concat([Buffer.from('ts,device,te'), Buffer.from([0xff]), Buffer.from('mp\n')]))).toMatchObject({ reject: { rule: 'invalid_header' } });
  });

  it('sees the whole first line, however long, up to MAX_LINE_BYTES: NDJSON and a wide header past 64 KiB', () => {
    const bigLine = `{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[${Array.from({ length: 40_000 }, (_, i) => i % 10).join(',')}]}\n`;
    const ndjson = Buffer.from(bigLine + bigLine);
    expect(bigLine.length).toBeGreaterThan(64 * 1024);
    expect(d(detectionHead(ndjson, 1 << 20))).toEqual({ kind: 'ndjson' });
    // Over MAX_LINE_BYTES the line is cut, and still recognised by its top-level "kind" (it is refused as line_too_long later).
    expect(d(detectionHead(ndjson, 70_000))).toEqual({ kind: 'ndjson' });
    const header = `ts,device,${Array.from({ length: 8000 }, (_, i) => `metric_${i}`).join(',')}\n`;
    const wide = Buffer.from(`${header}1,a,${Array.from({ length: 8000 }, () => '1').join(',')}\n`);
    expect(detectionHead(wide, 1 << 20).toString()).toContain(header);
    expect(d(detectionHead(wide, 1 << 20))).toEqual({ kind: 'sensor_wide_csv' });
    expect([headIsEnough(64 * 1024, false, 1 << 20), headIsEnough(64 * 1024, true, 1 << 20), headIsEnough((1 << 20) + 3, false, 1 << 20)]).toEqual([false, true, true]);
  });

  it('refuses unknown JSON shapes, binary and other text as unrecognized_format with a message', () => {
    for (const text of ['{"foo":1}', 'hello world\n', '[1,2,3]', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01])]) {
      const r = d(text, 'x.json');
      expect(r).toMatchObject({ reject: { rule: 'unrecognized_format' } });
      expect('reject' in r && r.reject.message.length).toBeGreaterThan(10);
    }
  });

  it('takes other text as a log, its lines with NUL or bytes that are not UTF-8 included (they become row errors)', () => {
    expect(d('info: system booted\nwarn: disk space low\n', 'input.log')).toEqual({ kind: 'log' });
    expect(d('Once upon a time\n', 'story.txt')).toEqual({ kind: 'log' });
    expect(d('[INFO] started\n[1,2] is not JSON text here\n')).toEqual({ kind: 'log' });
    expect(d('\x1b[31merror\x1b[0m: red\n')).toEqual({ kind: 'log' });
    const text = 'a line of ordinary text\n'.repeat(20);
    expect(d(Buffer.concat([Buffer.from(text), Buffer.from([0xe9, 0x0a, 0x00, 0x0a]), Buffer.from(text)]))).toEqual({ kind: 'log' });
  });

  it('refuses binary content as unrecognized_format whatever its name: NUL-heavy, UTF-16, random bytes', () => {
    const utf16 = Buffer.from('\uFEFFinfo: system booted\n', 'utf16le');
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    for (const bytes of [Buffer.from([0, 1, 2, 3, 255, 254, 0, 7]), utf16, random, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01])]) {
      expect(d(bytes, 'blob.log')).toMatchObject({ reject: { rule: 'unrecognized_format', message: expect.stringContaining('looks binary') } });
    }
  });

  it('does not take JSON that is no known kind, or text under a structured name, as a log', () => {
    for (const [text, name] of [['[1,2,3]', 'a.log'], ['"just a string"', 'a.txt'], ['42', 'a.txt'], ['[\n  {"a": 1}\n]', 'a.log'], ['info: hello\n', 'a.csv'], ['<x/>\n', 'a.xml']]) {
      expect(d(text, name)).toMatchObject({ reject: { rule: 'unrecognized_format', message: expect.stringContaining('loaded as a log') } });
    }
  });

  it('trusts content over the file name', () => {
    expect(d('sensor_uuid;sensor_name\n', 'readings.json')).toEqual({ kind: 'sensor_mapping_csv' });
  });

  it('reports a malformed sensor header', () => {
    expect(d('ts,device,temp,temp\n')).toMatchObject({ reject: { rule: 'invalid_header', line: 1, message: expect.stringContaining('columns 3 and 4') } });
  });

  it('refuses a second timestamp, device or key column, naming the columns, rather than taking it for a metric', () => {
    const cases: Array<[string, string]> = [
      ['"ts","device","temp","ts"\n', '"ts" (column 1), "ts" (column 4)'],
      ['ts,device,temp,DEVICE\n', '"device" (column 2), "device" (column 4)'],
      ['timestamp,ts,device,temp\n', '"timestamp" (column 1), "ts" (column 2)'],
      ['ts,device,device_id,temp\n', '"device" (column 2), "device_id" (column 3)'],
      ['timestamp;sensor_uuid;sensor_value;sensor_uuid\n', '"sensor_uuid" (column 2), "sensor_uuid" (column 4)'],
      ['sensor_uuid;sensor_name;sensor_name\n', '"sensor_name" (column 2), "sensor_name" (column 3)'],
    ];
    for (const [text, named] of cases) expect(d(text, 'x.csv')).toEqual({ reject: { rule: 'invalid_header', line: 1, message: expect.stringContaining(named) } });
  });

  it('takes a list of detectors, so a new kind is one more module', () => {
    const xml: KindDetector = { name: 'xml', detect: ({ text }) => (text.startsWith('<?xml') ? { kind: 'measurement' } : null) };
    expect(detectKind(Buffer.from('<?xml version="1.0"?>'), 'a.xml', [xml])).toEqual({ kind: 'measurement' });
  });

  describe('a bracket or a brace alone is no JSON', () => {
    const log = '[2024-07-21T14:30:00Z] error disk failed\n[2024-07-21T14:30:01Z] info ok\n';

    it('takes a log whose first line starts with a bracketed timestamp as a log, named .log or with no extension', () => {
      expect(d(log, 'app.log')).toEqual({ kind: 'log' });
      expect(d(log, 'app')).toEqual({ kind: 'log' });
      expect(d(`${log}${'[2024-07-21T14:30:02Z] info more\n'.repeat(5000)}`, 'app.log')).toEqual({ kind: 'log' });
    });

    it('takes other text that opens with a bracket or a brace as a log', () => {
      for (const text of ['[1] first entry\n', '{user} logged in\n', '[1,2] is not JSON text here\n', '"quoted" said the log\n', '- item one\n- item two\n']) {
        expect(d(text, 'a.log')).toEqual({ kind: 'log' });
      }
    });

    it('still refuses JSON of no known kind, whole, cut off by the head or by the end, or as lines, saying it is JSON', () => {
      const cut = `[${Array.from({ length: 20_000 }, (_, i) => i + 0.5).join(', ')}]`;
      expect(cut.length).toBeGreaterThan(64 * 1024);
      for (const text of ['[1,2,3]', '[1, 2', '[\n  {"a": 1}\n]', '[1,2]\n[3,4]\n', '{"a":1}\n{"b":2}\n', '{"a":1} trailing', cut, '"a string"']) {
        expect(d(text, 'app.log')).toMatchObject({ reject: { rule: 'unrecognized_format', message: expect.stringMatching(/JSON (\(|with)/) } });
      }
      // A head cut inside a long run of letters or digits is read in linear time (1 MiB of them, as a first line may hold).
      expect(d(Buffer.from(`{"kind":"sensor_reading","pad":"${'x'.repeat(1 << 20)}`), 'a.ndjson')).toEqual({ kind: 'ndjson' });
      expect(d(Buffer.from(`{"vehicle_status":[{"vehicle_id":"${'x'.repeat(1 << 20)}`))).toEqual({ kind: 'vehicle_status' });
      expect(d(Buffer.from(`[2024-07-21T14:30:00Z] ${'x'.repeat(1 << 20)}`), 'app.log')).toEqual({ kind: 'log' });
      // A known document followed by other text is that document (its loader refuses the trailing text with its position).
      expect(d('{"time_stamp":"2019-05-04T07:00:00-04:00","data":[1]} trailing', 'x.json')).toEqual({ kind: 'measurement' });
      // A head cut inside a number or a word is still the start of JSON.
      const measurement = `{"time_stamp":"2019-05-01T06:00:00-04:00","data":[${Array.from({ length: 20_000 }, () => '12.375').join(',')}]}`;
      for (const at of [64 * 1024, 64 * 1024 + 1, 64 * 1024 + 2, 64 * 1024 + 3]) expect(d(measurement.slice(0, at))).toEqual({ kind: 'measurement' });
    });
  });

  describe('leading blank lines and whitespace', () => {
    const doc = '{"vehicle_status":[{"vehicle_id":"a","report_time":"2022-05-05T22:02:34.546Z","status":"driving"}]}';
    const blank = (n: number, unit = ' \n\t\r\n') => unit.repeat(Math.ceil(n / unit.length));

    it('looks past more than a MiB of whitespace to the content', async () => {
      for (const ws of [blank(1.5 * 1024 * 1024), ' '.repeat(1.5 * 1024 * 1024)]) {
        const bytes = Buffer.from(ws + doc);
        expect(d(detectionHead(bytes, 1 << 20))).toEqual({ kind: 'vehicle_status' });
        expect(d(await readDetectionHead(Readable.from(chunks(bytes, 65536)), 1 << 20))).toEqual({ kind: 'vehicle_status' });
      }
    });

    it('detects a CSV or a log after blank lines', async () => {
      const csv = Buffer.from('\n\n   \r\n"ts","device","temp"\n"1700000000","a","1"\n');
      expect(d(detectionHead(csv, 1 << 20), 'x.csv')).toEqual({ kind: 'sensor_wide_csv' });
      expect(d(await readDetectionHead(Readable.from(chunks(csv, 3)), 1 << 20), 'x.csv')).toEqual({ kind: 'sensor_wide_csv' });
      expect(d(detectionHead(Buffer.from(`${blank(200_000)}info: started\n`), 1 << 20))).toEqual({ kind: 'log' });
    });

    it('refuses whitespace with no content within DETECT_MAX_BLANK_BYTES for what it is, not as empty', async () => {
      const late = Buffer.concat([Buffer.alloc(DETECT_MAX_BLANK_BYTES + 128 * 1024, 0x20), Buffer.from(doc)]);
      const message = expect.stringContaining(`nothing but whitespace in its first ${DETECT_MAX_BLANK_BYTES / 1024 / 1024} MiB`);
      expect(d(detectionHead(late, 1 << 20), 'late.json')).toEqual({ reject: { rule: 'unrecognized_format', message } });
      expect(d(await readDetectionHead(Readable.from(chunks(late, 1 << 20)), 1 << 20), 'late.json')).toEqual({ reject: { rule: 'unrecognized_format', message } });
      // Whitespace only, however much of it: empty.
      expect(d(await readDetectionHead(Readable.from(chunks(Buffer.alloc(3 * 1024 * 1024, 0x0a), 65536)), 1 << 20))).toMatchObject({ reject: { rule: 'empty_file' } });
    });
  });

  it('reads CR-only line ends as line ends: a CSV header and a log', async () => {
    const csv = Buffer.from('"ts","device","temp"\r"1700000000","a","1"\r"1700000060","a","2"\r');
    expect(d(csv, 'old-mac.csv')).toEqual({ kind: 'sensor_wide_csv' });
    expect(d(await readDetectionHead(Readable.from(chunks(csv, 7)), 1 << 20), 'old-mac.csv')).toEqual({ kind: 'sensor_wide_csv' });
    expect(d('info: one\rwarn: two\r', 'old-mac.log')).toEqual({ kind: 'log' });
  });
});

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
