import { Readable } from 'node:stream';
import type { CsvFormat } from '../contract';
import { readRecords } from './read-records';
import type { RecordBatch, RecordLimits } from './record-batch';

const LIMITS: RecordLimits = { maxLineBytes: 1000, maxColumns: 20 };

function csv(overrides: Partial<CsvFormat> = {}): CsvFormat {
  return { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0, ...overrides };
}

/** `input` cut into chunks of `every` bytes (one chunk when unset). */
function chunks(input: string | Buffer, every?: number): Readable {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const size = every ?? Math.max(buf.length, 1);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function readAll(input: Readable, format: CsvFormat, limits: RecordLimits = LIMITS) {
  const batches: RecordBatch[] = [];
  for await (const batch of readRecords(input, format, limits)) batches.push(batch);
  return {
    batches,
    header: batches.at(-1)?.header,
    records: batches.flatMap((b) => b.records),
    rejects: batches.flatMap((b) => b.rejects),
  };
}

describe('readRecords (CSV)', () => {
  const text = ['Zeit;Station;Temperatur;Notiz', '01.03.2026 10:00;Nord;3,5;"a; b"', '01.03.2026 11:00;Süd;-1,25;"zwei', 'Zeilen"', '01.03.2026 12:00;Ost;1.234,5;plain', ''].join('\n');

  it.each([1, 7, 4096])('reads ;-separated fields with quoted ; and line breaks, values left as text, lines where each record starts (%i-byte chunks)', async (every) => {
    const { header, records, rejects } = await readAll(chunks(text, every), csv());
    expect(rejects).toEqual([]);
    expect(header).toEqual(['Zeit', 'Station', 'Temperatur', 'Notiz']);
    expect(records).toEqual([
      { line: 2, values: ['01.03.2026 10:00', 'Nord', '3,5', 'a; b'] },
      { line: 3, values: ['01.03.2026 11:00', 'Süd', '-1,25', 'zwei\nZeilen'] },
      { line: 5, values: ['01.03.2026 12:00', 'Ost', '1.234,5', 'plain'] },
    ]);
  });

  it('counts CRLF line breaks once, inside quoted fields too, and skips blank lines', async () => {
    const { records } = await readAll(chunks('a;b\r\n"x\r\ny";1\r\n\r\n   \r\nz;2\r\n'), csv());
    expect(records).toEqual([
      { line: 2, values: ['x\r\ny', '1'] },
      { line: 6, values: ['z', '2'] },
    ]);
  });

  it('skips the lines before the header, and numbers records by the file', async () => {
    const { header, records } = await readAll(chunks('Messstation Nord\nEinheiten: °C; %\n\nts;temp\n2026-03-01;3,5\n'), csv({ skipLines: 3 }));
    expect(header).toEqual(['ts', 'temp']);
    expect(records).toEqual([{ line: 5, values: ['2026-03-01', '3,5'] }]);
  });

  it('takes the column names from format.columns when there is no header row', async () => {
    const { header, records } = await readAll(chunks('title line\n1;2\n3;4\n'), csv({ header: false, columns: ['a', 'b'], skipLines: 1 }));
    expect(header).toEqual(['a', 'b']);
    expect(records).toEqual([
      { line: 2, values: ['1', '2'] },
      { line: 3, values: ['3', '4'] },
    ]);
  });

  it('numbers the columns of a file with neither a header row nor format.columns', async () => {
    const { header, records } = await readAll(chunks('1;2\n3;4\n'), csv({ header: false }));
    expect(header).toEqual(['column_1', 'column_2']);
    expect(records.map((r) => r.line)).toEqual([1, 2]);
  });

  it('decodes latin1 bytes', async () => {
    const bytes = Buffer.concat([Buffer.from('Temperatur '), Buffer.from([0xb0]), Buffer.from('C;Ger'), Buffer.from([0xe4]), Buffer.from('t\n3,5;K'), Buffer.from([0xfc]), Buffer.from('hlung\n')]);
    const { header, records, rejects } = await readAll(chunks(bytes, 3), csv({ encoding: 'latin1' }));
    expect(rejects).toEqual([]);
    expect(header).toEqual(['Temperatur °C', 'Gerät']);
    expect(records).toEqual([{ line: 2, values: ['3,5', 'Kühlung'] }]);
  });

  it('points a latin1 file read as UTF-8 to the encoding setting, at its header or its first record that is not UTF-8', async () => {
    const header = await readAll(chunks(Buffer.concat([Buffer.from('Temperatur '), Buffer.from([0xb0]), Buffer.from('C;Ort\n3,5;x\n')])), csv());
    expect(header.rejects).toEqual([expect.objectContaining({ line: 1, rule: 'invalid_header', message: expect.stringContaining('encoding: latin1') })]);
    const record = await readAll(chunks(Buffer.concat([Buffer.from('Temperatur;Ort\n3,5;M'), Buffer.from([0xfc]), Buffer.from('nchen\n')])), csv());
    expect(record.rejects).toEqual([expect.objectContaining({ line: 2, rule: 'invalid_utf8', column: 'Ort', message: expect.stringContaining('encoding: latin1') })]);
  });

  it('drops a UTF-8 BOM, even one cut by a chunk boundary', async () => {
    const { header } = await readAll(chunks(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('ts;wert\n1;2\n')]), 1), csv());
    expect(header).toEqual(['ts', 'wert']);
  });

  it('refuses a record with another number of fields, with its line, and reads on', async () => {
    const { records, rejects } = await readAll(chunks('a;b;c\n1;2;3\n1;2\n"x\ny";2;3;4\n5;6;7\n'), csv());
    expect(records.map((r) => r.line)).toEqual([2, 6]);
    expect(rejects).toEqual([
      expect.objectContaining({ line: 3, rule: 'wrong_field_count', raw: '1;2', message: expect.stringMatching(/^line 3: the record has 2 field\(s\) but the header has 3/) }),
      expect.objectContaining({ line: 4, rule: 'wrong_field_count', raw: '"x\ny";2;3;4' }),
    ]);
  });

  it('refuses a record holding bytes that are not UTF-8 (that record only) or a NUL', async () => {
    const bytes = Buffer.concat([Buffer.from('a;b\n1;ok\n2;bad'), Buffer.from([0xff]), Buffer.from('\n3;nul\0\n4;ok\n')]);
    const { records, rejects } = await readAll(chunks(bytes, 5), csv());
    expect(records.map((r) => r.line)).toEqual([2, 5]);
    expect(rejects).toEqual([expect.objectContaining({ line: 3, rule: 'invalid_utf8', column: 'b' }), expect.objectContaining({ line: 4, rule: 'invalid_character', column: 'b' })]);
  });

  it('ends the file at a line longer than maxLineBytes, keeping the records before it', async () => {
    const long = 'x'.repeat(200);
    for (const line of [`1;${long}`, ';'.repeat(200)]) {
      const { records, rejects, batches } = await readAll(chunks(`a;b\n1;2\n${line}\n3;4\n`, 16), csv(), { ...LIMITS, maxLineBytes: 100 });
      expect(records).toEqual([{ line: 2, values: ['1', '2'] }]);
      expect(rejects).toEqual([expect.objectContaining({ line: 3, rule: 'line_too_long' })]);
      expect(batches.at(-1)?.rejects.at(-1)?.rule).toBe('line_too_long');
    }
  });

  it('ends the file at a quoted field that is never closed, once it is longer than maxLineBytes', async () => {
    const { records, rejects } = await readAll(chunks(`a;b\n1;2\n3;"open\n${'short line\n'.repeat(20)}`), csv(), { ...LIMITS, maxLineBytes: 100 });
    expect(records).toHaveLength(1);
    expect(rejects).toEqual([expect.objectContaining({ rule: 'line_too_long', message: expect.stringContaining('never closed') })]);
    const short = await readAll(chunks('a;b\n1;"open\n'), csv());
    expect(short.rejects).toEqual([expect.objectContaining({ rule: 'malformed_csv' })]);
  });

  it.each([
    ['more columns than maxColumns', `${Array.from({ length: 21 }, (_, i) => `c${i}`).join(';')}\n`, /has 21 columns; a file may have at most 20/],
    ['a column named twice', 'a;b; a\n1;2;3\n', /names column "a" twice \(columns 1 and 3\)/],
    ['a column without a name', 'a;;c\n1;2;3\n', /column 2 of the header has no name/],
  ])('ends the file at a header with %s, in one reject', async (_, input, message) => {
    const { records, rejects } = await readAll(chunks(input), csv());
    expect(records).toEqual([]);
    expect(rejects).toEqual([expect.objectContaining({ line: 1, rule: 'invalid_header', message: expect.stringMatching(message) })]);
  });

  it('gives the header of a file without records in a batch of its own', async () => {
    const { batches } = await readAll(chunks('a;b\n\n'), csv());
    expect(batches).toEqual([{ header: ['a', 'b'], records: [], rejects: [] }]);
  });

  it('refuses a file without a header line', async () => {
    expect((await readAll(chunks('\n\n'), csv())).rejects).toEqual([expect.objectContaining({ rule: 'empty_file' })]);
    expect((await readAll(chunks(''), csv({ header: false, columns: ['a'] }))).rejects).toEqual([]);
  });

  it('reads 50,000 records in several batches, every one of them, the header on each batch', async () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => `${i};Station ${i % 7};${i % 100},5`);
    // 64 KiB chunks, as a file stream reads them.
    const { batches, records, rejects } = await readAll(chunks(`id;station;wert\n${rows.join('\n')}\n`, 64 * 1024), csv());
    expect(rejects).toEqual([]);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.every((b) => b.header?.length === 3)).toBe(true);
    expect(records).toHaveLength(50_000);
    expect(records[49_999]).toEqual({ line: 50_001, values: ['49999', 'Station 5', '99,5'] });
    expect(records.every((r, i) => r.line === i + 2)).toBe(true);
  });
});
