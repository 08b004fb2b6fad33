import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { exportFileName, exportFormatFor, type ExportRow, ReadingsEncoder } from './readings-export';

const encode = (format: 'csv' | 'ndjson', rows: ExportRow[], neutraliseFormulas = true) => text(Readable.from(rows).pipe(new ReadingsEncoder(format, { neutraliseFormulas })));

describe('exportFormatFor', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['application/json', null],
    ['*/*', null],
    ['text/csv', 'csv'],
    ['text/csv; charset=utf-8', 'csv'],
    ['application/x-ndjson', 'ndjson'],
    ['text/html, text/csv', 'csv'],
    ['application/json, text/csv', null],
    ['application/json;q=0.5, text/csv', 'csv'],
    ['text/csv;q=0, application/json', null],
    ['TEXT/CSV', 'csv'],
  ])('%p → %p', (accept, expected) => {
    expect(exportFormatFor(accept)).toBe(expected);
  });
});

describe(ReadingsEncoder.name, () => {
  const rows: ExportRow[] = [
    ['2024-01-01T00:00:00.000001Z', 0.1 + 0.2, '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10'],
    ['2024-01-01T00:00:01.000000Z', -1e-7, '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10'],
  ];

  it('writes a header and one CSV line per reading whose value parses back to the same double', async () => {
    const out = await encode('csv', rows);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('ts,value,file_id');
    expect(lines.slice(1).map((l) => l.split(','))).toEqual(rows.map(([t, v, f]) => [t, String(v), f]));
    expect(Number(lines[1].split(',')[1])).toBe(0.1 + 0.2);
  });

  it('keeps negative and signed values numbers, and neutralises a text cell that could be a formula', async () => {
    const out = await encode('csv', [['=1+1', -1.5, '@SUM(A1)']]);
    expect(out).toBe(`ts,value,file_id\n"'=1+1",-1.5,"'@SUM(A1)"\n`);
    expect(await encode('csv', [['=1+1', -1.5, '@SUM(A1)']], false)).toBe('ts,value,file_id\n=1+1,-1.5,@SUM(A1)\n');
  });

  it('writes one JSON object a line for NDJSON', async () => {
    const out = await encode('ndjson', rows);
    expect(out.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(rows.map(([t, v, f]) => ({ ts: t, value: v, file_id: f })));
  });

  it('writes only the header for an empty range', async () => {
    expect(await encode('csv', [])).toBe('ts,value,file_id\n');
    expect(await encode('ndjson', [])).toBe('');
  });

  it('gathers many rows into chunks instead of one write per row', async () => {
    const many: ExportRow[] = Array.from({ length: 20000 }, (_, i) => [`2024-01-01T00:00:00.${String(i).padStart(6, '0')}Z`, i, 'f']);
    const chunks: string[] = [];
    for await (const c of Readable.from(many).pipe(new ReadingsEncoder('csv', { neutraliseFormulas: true }))) chunks.push(String(c));
    expect(chunks.length).toBeLessThan(30);
    expect(chunks.join('').split('\n').length).toBe(20002);
  });
});

describe('exportFileName', () => {
  it('keeps a sensor name with / and : out of the header syntax', () => {
    expect(exportFileName('b8:27:eb:bf:9d:51/temp', 'csv')).toBe('b8_27_eb_bf_9d_51_temp.csv');
    expect(exportFileName('a"b', 'ndjson')).toBe('a_b.ndjson');
  });
});
