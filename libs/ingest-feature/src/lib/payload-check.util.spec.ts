import { ApiException } from '@sluice/http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkJsonDocument, checkNdjson } from './payload-check.util';
import { SEED_PAYLOAD_EXAMPLE } from './seed-payload.example';

const SEED = readFileSync(join(__dirname, '../../../../fixtures/json/payload.json'));
const refusal = (fn: () => unknown): { status: number; code: string; message: string; details: unknown } => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiException) return { status: e.getStatus(), code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('payload checks', () => {
  it('accepts the seed payload as a measurement; the OpenAPI example is that payload', () => {
    expect(checkJsonDocument(SEED, 64)).toEqual({ kind: 'measurement', items: 1 });
    expect(SEED_PAYLOAD_EXAMPLE).toEqual(JSON.parse(SEED.toString('utf8')));
  });

  it('400 with line and column for bytes that are not JSON, or not UTF-8', () => {
    expect(refusal(() => checkJsonDocument(Buffer.from('{"a":\n  tru}'), 64))).toMatchObject({ status: 400, code: 'invalid_json', details: { line: 2 } });
    expect(refusal(() => checkJsonDocument(Buffer.from([0x7b, 0xff, 0x7d]), 64))).toMatchObject({ status: 400, code: 'invalid_json', details: { rule: 'invalid_utf8' } });
  });

  it('422 naming the field for NaN (which JSON.parse refuses but the processor reads as a number)', () => {
    const r = refusal(() => checkJsonDocument(Buffer.from('{"time_stamp":"2019-05-01T06:00:00Z","data":[1, NaN]}'), 64));
    expect(r).toMatchObject({ status: 422, code: 'invalid_document' });
    expect((r.details as { problems: Array<{ field: string; rule: string }> }).problems[0]).toMatchObject({ field: 'data[1]', rule: 'not_a_number' });
  });

  it('422 naming the field for a member given twice, as the processor refuses it; the body after leading whitespace is read', () => {
    const doc = refusal(() => checkJsonDocument(Buffer.from('{"time_stamp":"2019-05-01T06:00:00Z","data":[1],"data":[2]}'), 64));
    expect(doc).toMatchObject({ status: 422, details: { problems: [{ field: 'data', rule: 'duplicate_key' }] } });
    const line = refusal(() => checkNdjson(Buffer.from('{"kind":"sensor_reading","sensor":"a/b","sensor":"c/d","ts":"2024-01-01T00:00:00Z","value":1}\n'), 64));
    expect(line).toMatchObject({ status: 422, details: { problems: [{ line: 1, field: 'sensor', rule: 'duplicate_key' }] } });
    expect(checkJsonDocument(Buffer.concat([Buffer.alloc(200_000, 0x0a), SEED]), 64)).toEqual({ kind: 'measurement', items: 1 });
  });

  it('422 for a JSON body that is an NDJSON line, and for NDJSON without a kind on line 1', () => {
    expect(refusal(() => checkJsonDocument(Buffer.from('{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[1]}'), 64)).message).toContain('application/x-ndjson');
    expect(refusal(() => checkNdjson(Buffer.from('{"time_stamp":"2019-05-01T06:00:00Z","data":[1]}\n'), 64))).toMatchObject({ status: 422 });
    expect(refusal(() => checkNdjson(Buffer.from('\n\n'), 64)).message).toContain('no lines');
  });

  it('takes NDJSON whose first line is longer than 64 KiB for NDJSON', () => {
    const line = (i: number) => `{"kind":"measurement","time_stamp":"2019-05-01T06:${String(i).padStart(2, '0')}:00Z","data":[${Array.from({ length: 40_000 }, (_, k) => k % 10).join(',')}]}\n`;
    expect(line(0).length).toBeGreaterThan(64 * 1024);
    expect(checkNdjson(Buffer.from(line(0) + line(1)), 64)).toEqual({ kind: 'ndjson', items: 2 });
  });

  it('counts NDJSON items, skipping blank lines and CRLF', () => {
    const body = '{"kind":"sensor_reading","sensor":"d/temp","ts":"2020-07-12T00:01:34Z","value":1}\r\n\r\n{"kind":"sensor_reading","sensor":"d/temp","ts":"2020-07-12T00:01:35Z","value":2}\r\n';
    expect(checkNdjson(Buffer.from(body), 64)).toEqual({ kind: 'ndjson', items: 2 });
  });
});
