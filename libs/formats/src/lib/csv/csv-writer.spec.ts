import { parse } from 'csv-parse/sync';
import { CsvWriter, csvNumberCell, csvTextCell } from './csv-writer';

const columns = [
  { name: 'name', kind: 'text' },
  { name: 'value', kind: 'number' },
  { name: 'note', kind: 'text' },
] as const;

describe(CsvWriter.name, () => {
  const on = new CsvWriter(columns, { neutraliseFormulas: true });
  const off = new CsvWriter(columns, { neutraliseFormulas: false });

  it.each([
    ['=HYPERLINK("http://evil","x")', `"'=HYPERLINK(""http://evil"",""x"")"`],
    ['+1+cmd|calc', `"'+1+cmd|calc"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\t=1', `"'\t=1"`],
    ['\r=1', `"'\r=1"`],
    ['\n=1', `"'\n=1"`],
  ])('neutralises a text cell starting like a formula: %p', (cell, written) => {
    expect(csvTextCell(cell, true)).toBe(written);
    // A CSV reader gets the cell back with the leading quote a spreadsheet shows it with.
    expect(parse(on.line([cell, 1, 'x']))).toEqual([[`'${cell}`, '1', 'x']]);
  });

  it('leaves ordinary text alone, quoting only what holds a quote, comma or line break', () => {
    expect(on.line(['a=b', 2, 'say "hi", then\nleave'])).toBe('a=b,2,"say ""hi"", then\nleave"\n');
    expect(on.line(['', null, undefined])).toBe(',,\n');
  });

  it('keeps numbers in a number column as numbers, signed or not', () => {
    expect(on.line(['t', -1.5, 'x'])).toBe('t,-1.5,x\n');
    expect(on.line(['t', '+3', 'x'])).toBe('t,+3,x\n');
    expect(on.line(['t', '-12345678901234567890', 'x'])).toBe('t,-12345678901234567890,x\n');
    expect(csvNumberCell(0.1 + 0.2, true)).toBe(String(0.1 + 0.2));
    expect(csvNumberCell(-1e-7, true)).toBe('-1e-7');
    // Non-numeric text in a number column is text, and neutralised like any.
    expect(csvNumberCell('-1+cmd', true)).toBe(`"'-1+cmd"`);
  });

  it('writes cells as they are when neutralisation is off (machine consumers)', () => {
    expect(off.line(['=1+1', -1, '@x'])).toBe('=1+1,-1,@x\n');
    expect(off.line(['a,b', 1, '"'])).toBe('"a,b",1,""""\n');
  });

  it('writes the header from the column names', () => {
    expect(on.header).toBe('name,value,note\n');
  });
});
