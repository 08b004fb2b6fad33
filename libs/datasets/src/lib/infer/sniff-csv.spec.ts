import { csvSampleColumns, sniffCsv } from './sniff-csv';

describe('sniffCsv', () => {
  it('finds ; with decimal commas and a header', () => {
    const text = ['Station;Zeit;Temperatur', 'A;29.03.2024 10:00;12,5', 'A;29.03.2024 10:10;-3,25', 'B;29.03.2024 10:00;1.234,5', ''].join('\n');
    expect(sniffCsv(text)).toEqual({ delimiter: ';', quote: '"', header: true, decimalComma: true, skipLines: 0 });
  });

  it('finds , with commas inside quoted fields, and no decimal comma', () => {
    const text = ['id,name,price', '1,"Smith, John",12.50', '2,"Doe, Jane",3.99', '3,"Roe, Richard",0.5', ''].join('\r\n');
    expect(sniffCsv(text)).toEqual({ delimiter: ',', quote: '"', header: true, decimalComma: false, skipLines: 0 });
  });

  it('finds tabs and pipes', () => {
    expect(sniffCsv('a\tb\tc\n1\t2\t3\n4\t5\t6\n').delimiter).toBe('\t');
    expect(sniffCsv('a|b\n1|2\n3|4\n').delimiter).toBe('|');
  });

  it('says there is no header when the first row holds data like the rest', () => {
    expect(sniffCsv('A;29.03.2024 10:00;12,5\nB;29.03.2024 10:10;13,5\n')).toMatchObject({ delimiter: ';', header: false, decimalComma: true });
  });

  it('takes an all-text first row of distinct names for a header', () => {
    expect(sniffCsv('city,country\nBerlin,Germany\nParis,France\n').header).toBe(true);
    expect(sniffCsv('Berlin,Germany\nBerlin,Germany\n').header).toBe(false);
  });

  it('counts title and blank lines before the header as lines to skip', () => {
    const text = 'Weather export March 2024\n\nStation;Temperatur\nA;12,5\nB;13,0\n';
    expect(sniffCsv(text)).toMatchObject({ delimiter: ';', header: true, skipLines: 2 });
  });

  it('ignores a last line the sample cut off, even inside quotes', () => {
    expect(sniffCsv('a,b\n1,2\n3,"unfinished').delimiter).toBe(',');
  });
});

describe('csvSampleColumns', () => {
  it('reads the sample into columns named by the header, after the skipped lines', () => {
    const text = 'Weather export\nStation;Temperatur\nA;12,5\nB;\n';
    expect(csvSampleColumns(text, { delimiter: ';', quote: '"', header: true, skipLines: 1 })).toEqual([
      { source: 'Station', samples: ['A', 'B'] },
      { source: 'Temperatur', samples: ['12,5', ''] },
    ]);
  });

  it('names columns without a header by format.columns or by position', () => {
    const columns = csvSampleColumns('1,2\n3,4\n', { delimiter: ',', quote: '"', header: false, skipLines: 0 });
    expect(columns.map((c) => c.source)).toEqual(['column_1', 'column_2']);
    expect(columns[0].samples).toEqual(['1', '3']);
  });
});
