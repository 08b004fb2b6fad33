import { parse } from 'yaml';
import type { CsvFormat } from '../contract';
import { inferContract, type InferContractInput } from './infer-contract';

const csv: CsvFormat = { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0 };

const weather: InferContractInput = {
  name: 'weather',
  fileName: '/drop/weather_2024-03-29.csv',
  format: csv,
  rowsSampled: 4,
  columns: [
    { source: 'Station', samples: ['A', 'A', 'B', 'B'] },
    { source: 'Zeit', samples: ['29.03.2024 10:00', '29.03.2024 10:10', '29.03.2024 10:00', '29.03.2024 10:10'] },
    { source: 'Temperatur', samples: ['12,5', '', '-3,25', '1.234,5'] },
    { source: 'Aktiv', samples: ['ja', 'nein', 'ja', 'ja'] },
  ],
};

describe('inferContract', () => {
  it('writes a contract that parses into the snake_case structure of a contract file', () => {
    expect(parse(inferContract(weather))).toEqual({
      inputs: { glob: 'weather_*.csv' },
      format: { type: 'csv', delimiter: ';', quote: '"', header: true, decimal_comma: true, encoding: 'utf-8', skip_lines: 0 },
      columns: [
        { source: 'Station', name: 'station', type: 'text', required: true },
        { source: 'Zeit', name: 'zeit', type: 'timestamptz', required: true, formats: ['dd.MM.yyyy HH:mm'] },
        { source: 'Temperatur', name: 'temperatur', type: 'float' },
        { source: 'Aktiv', name: 'aktiv', type: 'text', required: true },
      ],
      table: { name: 'weather', key: ['station', 'zeit'], on_duplicate_key: 'reject', time_column: 'zeit' },
      drift: 'quarantine',
    });
  });

  it('explains itself in comments: where it came from, each column, the guessed key', () => {
    const text = inferContract(weather);
    expect(text).toMatch(/^# Contract "weather", inferred by `sluice contract init` from 4 rows of weather_2024-03-29\.csv\./);
    expect(text).toContain('# Temperatur: seen "12,5", "-3,25", "1.234,5" → float: numbers with a fraction, decimal comma');
    expect(text).toContain('# Zeit: seen "29.03.2024 10:00", "29.03.2024 10:10" → timestamptz: times written dd.MM.yyyy HH:mm, without an offset (local times)');
    expect(text).toMatch(/key: \[ station, zeit \] # a guess: station and zeit are together unique in the sample/);
  });

  it('leaves the timezone of naive local times commented out, asking for it', () => {
    const text = inferContract(weather);
    expect(parse(text)).not.toHaveProperty('timezone');
    expect(text).toContain('# zeit: local times without an offset. In which IANA zone were they written?');
    expect(text).toContain('# timezone: Area/City');
  });

  it('writes the timezone given', () => {
    const text = inferContract({ ...weather, timezone: 'Europe/Berlin' });
    expect(parse(text)).toMatchObject({ timezone: 'Europe/Berlin' });
    expect(text).not.toContain('# timezone:');
    expect(text).toContain('timezone: Europe/Berlin # IANA zone of the local times in zeit');
  });

  it('needs no timezone when the times carry offsets, and keys on the first unique column without a time', () => {
    const contract = parse(
      inferContract({
        name: 'orders',
        fileName: 'orders-000123.ndjson',
        format: { type: 'ndjson' },
        rowsSampled: 3,
        columns: [
          { source: 'customer', samples: ['c1', 'c1', 'c2'] },
          { source: 'order_no', samples: [17, 18, 19] },
          { source: 'meta.placed', samples: [{ at: 1 }, [2], { at: 3 }] },
        ],
      }),
    ) as Record<string, unknown>;
    expect(contract).toEqual({
      inputs: { glob: 'orders-*.ndjson' },
      format: { type: 'ndjson' },
      columns: [
        { source: 'customer', name: 'customer', type: 'text', required: true },
        { source: 'order_no', name: 'order_no', type: 'int', required: true },
        { source: 'meta.placed', name: 'meta_placed', type: 'jsonb', required: true },
      ],
      table: { name: 'orders', key: ['order_no'], on_duplicate_key: 'reject' },
      drift: 'quarantine',
    });
  });

  it('keys ISO times alone when they are unique, and keeps the records path of JSON', () => {
    const text = inferContract({
      name: 'export',
      fileName: 'export.json',
      format: { type: 'json', recordsPath: 'data.readings' },
      rowsSampled: 2,
      columns: [
        { source: 'at', samples: ['2024-03-29T10:00:00Z', '2024-03-29T10:10:00Z'] },
        { source: 'value', samples: [1.5, 2] },
      ],
    });
    expect(parse(text)).toMatchObject({
      inputs: { glob: 'export.json' },
      format: { type: 'json', records_path: 'data.readings' },
      columns: [{ source: 'at', name: 'at', type: 'timestamptz', formats: ['iso'] }, { type: 'float' }],
      table: { key: ['at'], time_column: 'at' },
    });
    expect(text).not.toContain('timezone');
  });

  it('makes names distinct and writes the header-less column names', () => {
    const contract = parse(
      inferContract({
        ...weather,
        format: { ...csv, header: false, columns: ['Wert', 'wert'] },
        columns: [
          { source: 'Wert', samples: ['1'] },
          { source: 'wert', samples: ['2'] },
        ],
      }),
    ) as { format: { columns: string[] }; columns: { name: string }[] };
    expect(contract.format.columns).toEqual(['Wert', 'wert']);
    expect(contract.columns.map((c) => c.name)).toEqual(['wert', 'wert_2']);
  });

  it('names the columns of a CSV without a header by the sources sampled', () => {
    const contract = parse(
      inferContract({
        ...weather,
        format: { ...csv, header: false },
        columns: [
          { source: 'column_1', samples: ['a'] },
          { source: 'column_2', samples: ['1'] },
        ],
      }),
    ) as { format: { columns: string[] } };
    expect(contract.format.columns).toEqual(['column_1', 'column_2']);
  });

  it('keeps what a file name or sample holds inside comments and strings', () => {
    const text = inferContract({
      ...weather,
      fileName: 'evil\ndrift: ignore_extra #.csv',
      columns: [{ source: 'a: b\n- c', samples: ['x\ny: z', 'w'] }],
    });
    expect(parse(text)).toMatchObject({ drift: 'quarantine', columns: [{ source: 'a: b\n- c', name: 'a_b_c' }] });
  });

  it('refuses a name that cannot be a table name, and a timezone that is not an IANA zone', () => {
    expect(() => inferContract({ ...weather, name: 'Weather Data' })).toThrow(/not usable as a table name/);
    expect(() => inferContract({ ...weather, timezone: 'Mars/Olympus' })).toThrow(/"Mars\/Olympus" is not an IANA zone/);
  });
});
