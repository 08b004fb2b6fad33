import { ApiException } from '@sluice/http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkJsonDocument, checkNdjson, type ContractKinds } from './payload-check.util';
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

  describe('NDJSON lines of a data contract\'s kind', () => {
    const contracts = (byKind: Record<string, string[]>): ContractKinds => ({ taking: (k) => byKind[k] ?? [], kinds: () => Object.keys(byKind).sort() });
    const inForce = contracts({ orders: ['orders'], weather: ['weather'] });
    const order = (id: string, kind = 'orders') => JSON.stringify({ kind, order_id: id, amount: 1 });

    it('takes lines naming one contract kind, with the contract that takes them; the values are the contract\'s to check', () => {
      expect(checkNdjson(Buffer.from(`${order('o-1')}\n\n${order('o-2')}\n`), 64, inForce)).toEqual({ kind: 'ndjson', items: 2, contract: 'orders' });
      expect(checkNdjson(Buffer.from(`{"kind":"orders","anything":[1,{"a":null}]}\n`), 64, inForce)).toEqual({ kind: 'ndjson', items: 1, contract: 'orders' });
    });

    it('422 unknown_kind for a kind no contract takes, naming it and the contract kinds in force', () => {
      const r = refusal(() => checkNdjson(Buffer.from(`${order('o-1', 'invoices')}\n`), 64, inForce));
      expect(r).toMatchObject({ status: 422, details: { problems: [{ line: 1, field: 'kind', rule: 'unknown_kind' }] } });
      expect(r.message).toContain('"invoices"');
      expect(r.message).toContain('data contracts in force take orders, weather');
      expect(refusal(() => checkNdjson(Buffer.from(`${order('o-1')}\n`), 64)).message).toContain('no data contract in force takes a kind');
    });

    it('422 mixed_kinds for a contract kind beside a built-in kind or another contract kind', () => {
      const measurement = '{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[1]}';
      const withBuiltIn = refusal(() => checkNdjson(Buffer.from(`${order('o-1')}\n${measurement}\n`), 64, inForce));
      expect(withBuiltIn).toMatchObject({ status: 422, details: { problems: [{ line: 2, field: 'kind', rule: 'mixed_kinds' }] } });
      expect(withBuiltIn.message).toContain('kind "orders"');
      const builtInFirst = refusal(() => checkNdjson(Buffer.from(`${measurement}\n${order('o-1')}\n`), 64, inForce));
      expect(builtInFirst).toMatchObject({ status: 422, details: { problems: [{ line: 2, rule: 'mixed_kinds' }] } });
      const twoContracts = refusal(() => checkNdjson(Buffer.from(`${order('o-1')}\n${order('w-1', 'weather')}\n`), 64, inForce));
      expect(twoContracts).toMatchObject({ status: 422, details: { problems: [{ line: 2, rule: 'mixed_kinds', value: 'weather' }] } });
    });

    it('422 for a field given twice, and for a kind two contracts take', () => {
      const twice = refusal(() => checkNdjson(Buffer.from('{"kind":"orders","order_id":"a","order_id":"b"}\n'), 64, inForce));
      expect(twice).toMatchObject({ status: 422, details: { problems: [{ line: 1, field: 'order_id', rule: 'duplicate_key' }] } });
      const ambiguous = refusal(() => checkNdjson(Buffer.from(`${order('o-1')}\n`), 64, contracts({ orders: ['orders', 'shop_orders'] })));
      expect(ambiguous).toMatchObject({ status: 422, details: { problems: [{ line: 1, field: 'kind', rule: 'contract_ambiguous' }] } });
      expect(ambiguous.message).toContain('orders, shop_orders');
    });

    it('400 for a line of a contract kind that is not JSON', () => {
      expect(refusal(() => checkNdjson(Buffer.from(`${order('o-1')}\n{"kind":"orders",\n`), 64, inForce))).toMatchObject({ status: 400, code: 'invalid_json' });
    });
  });
});
