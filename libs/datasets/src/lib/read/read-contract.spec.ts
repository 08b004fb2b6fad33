import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Contract, ContractProblem } from '../contract';
import { contractNameOf, isContractFileName, MAX_CONTRACT_BYTES, readContract } from './read-contract';

const FILE = 'contracts/weather.yaml';

/** The example of docs/contracts.md: every field given. */
const EXAMPLE = `# weather station exports, one file a day
inputs:
  glob: "weather_*.csv"
  folder: weather
  s3: { source: archive, prefix: weather/ }
  kind: weather
format:
  type: csv
  delimiter: ";"
  quote: '"'
  header: true
  decimal_comma: true
  encoding: utf-8
  skip_lines: 0
timezone: Europe/Berlin
columns:
  - { source: Station, name: station, type: text, required: true, max_length: 40, pattern: "^[A-Z0-9-]+$" }
  - { source: Zeit, name: observed_at, type: timestamptz, required: true, formats: ["dd.MM.yyyy HH:mm"], ambiguous: reject }
  - { source: Temperatur, name: temperature_c, type: float, min: -80, max: 60 }
  - { source: Wetter, name: condition, type: text, enum: [sunny, cloudy, rain, snow] }
table:
  name: weather
  key: [station, observed_at]
  on_duplicate_key: newest_wins
  newest_by: observed_at
  time_column: observed_at
drift: quarantine
`;

/** The least a contract needs; each test adds the field it is about. Lines: 1 inputs … 5 columns, 6 first column, 8 table. */
const MINIMAL = `inputs: { glob: "*.csv" }
format:
  type: csv
timezone: UTC
columns:
  - { source: id, name: id, type: int, required: true }
  - { source: at, name: at, type: timestamptz }
table:
  key: [id]
`;

function problemsOf(text: string, file = FILE): ContractProblem[] {
  const result = readContract(file, text);
  if ('version' in result) throw new Error(`expected ${file} to be refused, but it was read`);
  return result.problems;
}

function contractOf(text: string, file = FILE): Contract {
  const result = readContract(file, text);
  if ('problems' in result) throw new Error(`expected ${file} to be read, got: ${result.problems.map((p) => p.message).join(' | ')}`);
  return result.version.contract;
}

/** The one problem of `text`, which must be at `field` on `line` and say `words`. */
function expectOnlyProblem(text: string, field: string | undefined, line: number | undefined, words: RegExp, file = FILE): void {
  const problems = problemsOf(text, file);
  expect(problems).toEqual([{ file, ...(line !== undefined && { line }), ...(field !== undefined && { field }), message: expect.stringMatching(words) }]);
}

describe('readContract', () => {
  it('reads the full example into the model', () => {
    const result = readContract(FILE, Buffer.from(EXAMPLE));
    if ('problems' in result) throw new Error(JSON.stringify(result.problems));
    expect(result.version.hash).toBe(createHash('sha256').update(EXAMPLE).digest('hex'));
    expect(result.version.text).toBe(EXAMPLE);
    expect(result.version.file).toBe(FILE);
    expect(result.version.contract).toEqual<Contract>({
      name: 'weather',
      inputs: { glob: 'weather_*.csv', folder: 'weather', s3: { source: 'archive', prefix: 'weather/' }, kind: 'weather' },
      format: { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0 },
      timezone: 'Europe/Berlin',
      columns: [
        { source: 'Station', name: 'station', type: 'text', required: true, maxLength: 40, pattern: '^[A-Z0-9-]+$', ambiguous: 'reject' },
        { source: 'Zeit', name: 'observed_at', type: 'timestamptz', required: true, formats: ['dd.MM.yyyy HH:mm'], ambiguous: 'reject' },
        { source: 'Temperatur', name: 'temperature_c', type: 'float', required: false, min: -80, max: 60, ambiguous: 'reject' },
        { source: 'Wetter', name: 'condition', type: 'text', required: false, enum: ['sunny', 'cloudy', 'rain', 'snow'], ambiguous: 'reject' },
      ],
      table: { name: 'weather', key: ['station', 'observed_at'], onDuplicateKey: 'newest_wins', newestBy: 'observed_at', timeColumn: 'observed_at' },
      drift: 'quarantine',
    });
  });

  it('reads the example of docs/contracts.md as it is printed there', () => {
    const docs = readFileSync(join(__dirname, '../../../../../docs/contracts.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(example).toContain('inputs:');
    expect(contractOf(example ?? '')).toEqual(contractOf(EXAMPLE));
  });

  it('fills in the defaults of every field left out', () => {
    const contract = contractOf(MINIMAL.replace('timezone: UTC\n', '').replace('type: timestamptz', 'type: date'), 'contracts/orders.yml');
    expect(contract).toEqual<Contract>({
      name: 'orders',
      inputs: { glob: '*.csv' },
      format: { type: 'csv', delimiter: ',', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0 },
      columns: [
        { source: 'id', name: 'id', type: 'int', required: true, ambiguous: 'reject' },
        { source: 'at', name: 'at', type: 'date', required: false, formats: ['iso'], ambiguous: 'reject' },
      ],
      table: { name: 'orders', key: ['id'], onDuplicateKey: 'reject' },
      drift: 'quarantine',
    });
  });

  it('reads JSON (with a records path) and NDJSON formats', () => {
    expect(contractOf(MINIMAL.replace('type: csv', 'type: json\n  records_path: data.readings')).format).toEqual({ type: 'json', recordsPath: 'data.readings' });
    expect(contractOf(MINIMAL.replace('type: csv', 'type: json')).format).toEqual({ type: 'json', recordsPath: '' });
    expect(contractOf(MINIMAL.replace('type: csv', 'type: ndjson')).format).toEqual({ type: 'ndjson' });
  });

  it('reads a CSV without a header when format.columns names its columns', () => {
    const contract = contractOf(MINIMAL.replace('type: csv', 'type: csv\n  header: false\n  columns: [id, at, note]'));
    expect(contract.format).toMatchObject({ type: 'csv', header: false, columns: ['id', 'at', 'note'] });
  });

  describe('identifiers', () => {
    it('refuses SQL in a column name', () => {
      expectOnlyProblem(MINIMAL.replace('name: id,', 'name: "x; drop table y",').replace('key: [id]', 'key: ["x; drop table y"]').replace('required: true }', 'required: true }'), 'columns[0].name', 6, /"x; drop table y" is not a valid name/);
    });

    it("refuses a table named like one of Sluice's own tables", () => {
      expectOnlyProblem(`${MINIMAL}  name: ingest_files\n`, 'table.name', 10, /"ingest_files" is one of Sluice's own tables/);
      expectOnlyProblem(`${MINIMAL}  name: measurements\n`, 'table.name', 10, /"measurements" is one of Sluice's own tables/);
    });

    it("refuses a contract whose name, taken as the table's, is one of Sluice's tables", () => {
      expectOnlyProblem(MINIMAL, 'table.name', 8, /the table name "sensors" \(the contract's name, as table.name is not set\) is one of Sluice's own tables; set table.name/, 'contracts/sensors.yaml');
    });

    it('refuses reserved words, pg_ names and the lineage columns', () => {
      expectOnlyProblem(`${MINIMAL}  name: select\n`, 'table.name', 10, /"select" is a reserved word/);
      expectOnlyProblem(`${MINIMAL}  name: pg_stats\n`, 'table.name', 10, /starts with pg_/);
      expectOnlyProblem(MINIMAL.replace('name: at,', 'name: file_id,'), 'columns[1].name', 7, /"file_id" is reserved: Sluice adds the columns file_id and line/);
      expectOnlyProblem(MINIMAL.replace('name: at,', 'name: Line,'), 'columns[1].name', 7, /"Line" is not a valid name/);
    });

    it("refuses a file whose name is not a valid contract name", () => {
      expectOnlyProblem(MINIMAL, undefined, undefined, /the contract name "Weather-Data" is not a valid name.*rename the file/, 'contracts/Weather-Data.yaml');
      expect(problemsOf('a: [', 'contracts/select.yaml').map((p) => p.message)).toEqual([
        expect.stringMatching(/the contract name "select" is a reserved word/),
        expect.stringMatching(/not valid YAML/),
      ]);
    });
  });

  describe('patterns', () => {
    const withPattern = (pattern: string) => MINIMAL.replace('{ source: at, name: at, type: timestamptz }', `{ source: at, name: at, type: text, pattern: ${JSON.stringify(pattern)} }`);

    it('refuses a pattern that can backtrack catastrophically', () => {
      expectOnlyProblem(withPattern('(a+)+$'), 'columns[1].pattern', 7, /"\(a\+\)\+\$" is not safe: it has nested repetition/);
    });

    it('refuses a pattern that does not compile, and one on a column that is not text', () => {
      expectOnlyProblem(withPattern('[a-'), 'columns[1].pattern', 7, /is not a valid regular expression/);
      expectOnlyProblem(MINIMAL.replace('required: true }', 'required: true, pattern: "^[0-9]+$" }'), 'columns[0].pattern', 6, /applies only to text columns, and column id is int/);
    });

    it('refuses a pattern longer than 500 characters', () => {
      expectOnlyProblem(withPattern('a'.repeat(501)), 'columns[1].pattern', 7, /1 to 500 characters/);
    });
  });

  describe('size and YAML', () => {
    it('refuses a 10 MB contract before parsing it, naming its size and the limit', () => {
      const huge = `${MINIMAL}# ${'x'.repeat(10 * 1024 * 1024)}\n`;
      const started = Date.now();
      expectOnlyProblem(huge, undefined, undefined, /the file is 10\.0 MiB, larger than the 256 KiB a contract may be/);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(problemsOf('#'.repeat(MAX_CONTRACT_BYTES + 1))).toHaveLength(1);
    });

    it('refuses a YAML alias bomb quickly', () => {
      const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 9; i++) {
        const prev = String.fromCharCode(96 + i);
        const name = String.fromCharCode(97 + i);
        levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
      }
      const started = Date.now();
      expectOnlyProblem(`${levels.join('\n')}\n`, undefined, undefined, /aliases \(\*name\) expand too far/);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('refuses lists or mappings nested too deep, quickly', () => {
      const started = Date.now();
      expectOnlyProblem(`${MINIMAL}x: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, undefined, 10, /nests lists or mappings more than 64 levels deep/);
      expectOnlyProblem(`${MINIMAL}x:\n  ${'- '.repeat(100_000)}y\n`, undefined, 11, /nests lists or mappings more than 64 levels deep/);
      expect(Date.now() - started).toBeLessThan(1000);
      // Brackets in quoted text and comments are not nesting.
      expect(contractOf(MINIMAL.replace('required: true }', `required: true } # ${'['.repeat(100)}`).replace('type: int', `type: int, source: "${'['.repeat(100)}"`).replace('source: id, ', ''))).toBeDefined();
    });

    it('refuses invalid YAML and a key given twice, with their lines', () => {
      expectOnlyProblem(MINIMAL.replace('  type: csv\n', '  type: csv\n  type: json\n'), undefined, 4, /a key is given twice in the same mapping/);
      expect(problemsOf('inputs: { glob: "*.csv"\nformat: [\n')[0]).toMatchObject({ line: expect.any(Number), message: expect.stringMatching(/^the file is not valid YAML: /) });
      expectOnlyProblem(`${MINIMAL}---\n${MINIMAL}`, undefined, 10, /more than one YAML document/);
      expectOnlyProblem(MINIMAL.replace('timezone: UTC', 'timezone: *zone'), undefined, undefined, /not valid YAML: Unresolved alias/);
    });

    it('refuses tags other than plain values', () => {
      expectOnlyProblem(MINIMAL.replace('timezone: UTC', 'timezone: !!js/function "function () {}"'), undefined, 4, /the tag !!js\/function is not allowed/);
      expectOnlyProblem(MINIMAL.replace('timezone: UTC', 'timezone: !zone UTC'), undefined, 4, /the tag !zone is not allowed/);
      expectOnlyProblem(MINIMAL.replace('timezone: UTC', 'timezone: !!binary aGVsbG8='), undefined, 4, /the tag !!binary is not allowed/);
      expect(contractOf(MINIMAL.replace('timezone: UTC', 'timezone: !!str UTC')).timezone).toBe('UTC');
    });

    it('refuses keys JavaScript objects treat specially', () => {
      expectOnlyProblem(`${MINIMAL}__proto__: { drift: ignore_extra }\n`, undefined, 10, /__proto__ is not a field of a contract/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  constructor: 1'), undefined, 4, /constructor is not a field of a contract/);
    });

    it('refuses an empty file, a file that is not a mapping, and bytes that are not UTF-8', () => {
      expectOnlyProblem('# nothing yet\n', undefined, undefined, /the file is empty/);
      expectOnlyProblem('- a\n- b\n', undefined, 1, /must be a mapping of fields .* found a list/);
      const result = readContract(FILE, Buffer.from([0x69, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
      expect(result).toEqual({ problems: [{ file: FILE, message: 'the file is not UTF-8 text; save it as UTF-8' }] });
    });
  });

  describe('fields', () => {
    it('names an unknown field and its line, with the fields it could be', () => {
      expectOnlyProblem(`${MINIMAL}colums: []\n`, 'colums', 10, /colums is not a field of a contract \(its fields: inputs, format, timezone, columns, table, drift\)/);
      expectOnlyProblem(MINIMAL.replace('  type: csv\n', '  type: csv\n  delimeter: ";"\n'), 'format.delimeter', 4, /format\.delimeter is not a field of format \(its fields: type, delimiter, /);
      expectOnlyProblem(MINIMAL.replace('required: true }', 'required: true, nullable: false }'), 'columns[0].nullable', 6, /columns\[0\]\.nullable is not a field of columns\[0\]/);
    });

    it('reports a missing field at its parent, and a value of the wrong type', () => {
      expectOnlyProblem(MINIMAL.replace('  key: [id]\n', '  name: orders\n'), 'table.key', 8, /table\.key is missing/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: xml'), 'format.type', 3, /format\.type must be one of csv, ndjson, json, found the text "xml"/);
      expectOnlyProblem(MINIMAL.replace('required: true }', 'required: "yes" }'), 'columns[0].required', 6, /must be true or false, found the text "yes"/);
      expectOnlyProblem(MINIMAL.replace('format:\n  type: csv', 'format: csv'), 'format', 2, /format must be a mapping of fields/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: varchar,'), 'columns[0].type', 6, /must be one of text, int, bigint/);
    });

    it('collects every problem of a file rather than stopping at the first', () => {
      const problems = problemsOf(MINIMAL.replace('type: int,', 'type: int, min: 5, max: 1,').replace('key: [id]', 'key: [id, nope]').replace('glob: "*.csv"', 'glob: "../*.csv"'));
      expect(problems.map((p) => [p.field, p.line])).toEqual([
        ['inputs.glob', 1],
        ['columns[0].min', 6],
        ['table.key[1]', 9],
      ]);
    });
  });

  describe('columns', () => {
    it('takes min and max only on numbers, with min at most max', () => {
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, min: 10, max: 1,'), 'columns[0].min', 6, /min 10 is greater than its max 1/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, min: 0.5,'), 'columns[0].min', 6, /must be a whole number for the int column id/);
      expectOnlyProblem(MINIMAL.replace('type: timestamptz }', 'type: timestamptz, max: 3 }'), 'columns[1].max', 7, /applies only to int, bigint, float or numeric columns/);
    });

    it('takes max_length and enum only on text, within their bounds', () => {
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, max_length: 3,'), 'columns[0].max_length', 6, /applies only to text columns/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: text, max_length: 0,'), 'columns[0].max_length', 6, /must be 1 to 1,000,000, found the number 0/);
      const manyValues = Array.from({ length: 1001 }, (_, i) => `v${i}`).join(', ');
      expectOnlyProblem(MINIMAL.replace('type: int,', `type: text, enum: [${manyValues}],`), 'columns[0].enum', 6, /has 1,001 values: at most 1,000/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: text, enum: [1, 2],'), 'columns[0].enum', 6, /quote numbers/);
    });

    it('refuses more than 500 columns', () => {
      const many = Array.from({ length: 501 }, (_, i) => `  - { source: c${i}, name: c${i}, type: text }`).join('\n');
      const problems = problemsOf(MINIMAL.replace(/columns:\n[\s\S]*table:/, `columns:\n${many}\n  - { source: id, name: id, type: int, required: true }\ntable:`));
      expect(problems).toEqual([expect.objectContaining({ field: 'columns', line: 5, message: 'columns has 502 columns: at most 500 are allowed' })]);
    });

    it('reports at most 100 problems, and how many more there are', () => {
      const bad = Array.from({ length: 150 }, (_, i) => `  - { source: c${i}, name: C${i}, type: text }`).join('\n');
      const problems = problemsOf(MINIMAL.replace('columns:\n', `columns:\n${bad}\n`));
      expect(problems).toHaveLength(101);
      expect(problems[100]).toEqual({ file: FILE, message: 'and 50 more problems; fix these first' });
    });

    it('refuses column names and sources given twice', () => {
      expectOnlyProblem(MINIMAL.replace('name: at,', 'name: id,'), 'columns[1].name', 7, /"id" is already the name of columns\[0\]/);
      expectOnlyProblem(MINIMAL.replace('source: at,', 'source: id,'), 'columns[1].source', 7, /"id" is already the source of columns\[0\]/);
    });

    it('refuses a time zone that is not IANA', () => {
      expectOnlyProblem(MINIMAL.replace('timezone: UTC', 'timezone: Mars/Olympus'), 'timezone', 4, /"Mars\/Olympus" is not an IANA time zone/);
      expectOnlyProblem(MINIMAL.replace('type: timestamptz }', 'type: timestamptz, timezone: "+02:00" }'), 'columns[1].timezone', 7, /is not an IANA time zone/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, timezone: UTC,'), 'columns[0].timezone', 6, /applies only to timestamptz or date columns/);
    });
  });

  describe('timestamp formats', () => {
    const naive = MINIMAL.replace('timezone: UTC\n', '').replace('type: timestamptz }', 'type: timestamptz, formats: [iso, "dd.MM.yyyy HH:mm"] }');

    it('refuses a naive format without a time zone', () => {
      expectOnlyProblem(naive, 'columns[1].formats', 6, /naive timestamps in column at need a timezone: the format "dd\.MM\.yyyy HH:mm" has no offset or zone, so add `timezone: <IANA zone>`/);
    });

    it("takes a naive format with the column's or the contract's zone, and iso or an offset token without one", () => {
      expect(contractOf(naive.replace('formats:', 'timezone: Europe/Berlin, formats:')).columns[1].timezone).toBe('Europe/Berlin');
      expect(contractOf(`timezone: Europe/Berlin\n${naive}`).timezone).toBe('Europe/Berlin');
      expect(contractOf(naive.replace('"dd.MM.yyyy HH:mm"', '"dd.MM.yyyy HH:mm ZZ"')).columns[1].formats).toEqual(['iso', 'dd.MM.yyyy HH:mm ZZ']);
      expect(contractOf(naive.replace('"dd.MM.yyyy HH:mm"', 'epoch_ms')).columns[1].formats).toEqual(['iso', 'epoch_ms']);
      expect(contractOf(naive.replace('type: timestamptz', 'type: date').replace('"dd.MM.yyyy HH:mm"', '"dd.MM.yyyy"')).columns[1].formats).toEqual(['iso', 'dd.MM.yyyy']);
    });

    it('refuses a format that cannot read a whole date, Unix tokens, and formats on other types', () => {
      expectOnlyProblem(MINIMAL.replace('type: timestamptz }', 'type: timestamptz, formats: ["HH:mm"] }'), 'columns[1].formats[0]', 7, /"HH:mm" cannot be read as a date/);
      expectOnlyProblem(MINIMAL.replace('type: timestamptz }', 'type: timestamptz, formats: [X] }'), 'columns[1].formats[0]', 7, /write epoch_s/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, formats: [iso],'), 'columns[0].formats', 6, /applies only to timestamptz or date columns/);
      expectOnlyProblem(MINIMAL.replace('type: int,', 'type: int, ambiguous: later,'), 'columns[0].ambiguous', 6, /applies only to timestamptz columns/);
    });
  });

  describe('table', () => {
    it('refuses a key column that is not required', () => {
      expectOnlyProblem(MINIMAL.replace('key: [id]', 'key: [id, at]'), 'table.key[1]', 9, /"at" is not a required column: .* set required: true/);
    });

    it('refuses a key that is empty, names no column or a column twice', () => {
      expectOnlyProblem(MINIMAL.replace('key: [id]', 'key: []'), 'table.key', 9, /table\.key is an empty list/);
      expectOnlyProblem(MINIMAL.replace('key: [id]', 'key: [ident]'), 'table.key[0]', 9, /"ident" is not a column of this contract \(id, at\)/);
      expectOnlyProblem(MINIMAL.replace('key: [id]', 'key: [id, id]'), 'table.key[1]', 9, /"id" is given twice/);
    });

    it('takes newest_by with newest_wins only, and only a time or number column', () => {
      expectOnlyProblem(`${MINIMAL}  on_duplicate_key: newest_wins\n`, 'table.on_duplicate_key', 10, /newest_wins needs table\.newest_by/);
      expectOnlyProblem(`${MINIMAL}  newest_by: at\n`, 'table.newest_by', 10, /applies only with on_duplicate_key: newest_wins \(it is reject\)/);
      expect(contractOf(`${MINIMAL}  on_duplicate_key: newest_wins\n  newest_by: at\n`).table).toMatchObject({ onDuplicateKey: 'newest_wins', newestBy: 'at' });
      const textColumn = MINIMAL.replace('type: timestamptz', 'type: text');
      expectOnlyProblem(`${textColumn}  on_duplicate_key: newest_wins\n  newest_by: at\n`, 'table.newest_by', 11, /is a text column; it must be a timestamptz, date, int, bigint, float or numeric column/);
    });

    it('takes a timestamptz or date column as time_column', () => {
      expect(contractOf(`${MINIMAL}  time_column: at\n`).table.timeColumn).toBe('at');
      expectOnlyProblem(`${MINIMAL}  time_column: id\n`, 'table.time_column', 10, /"id" is a int column; it must be a timestamptz or date column/);
      expectOnlyProblem(`${MINIMAL}  time_column: when\n`, 'table.time_column', 10, /"when" is not a column of this contract/);
    });
  });

  describe('format', () => {
    it('refuses a CSV delimiter or quote that is not one character, or both the same', () => {
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  delimiter: ";;"'), 'format.delimiter', 4, /one character other than a line break, found ";;"/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  quote: "\\n"'), 'format.quote', 4, /one character other than a line break/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  delimiter: "\'"\n  quote: "\'"'), 'format.quote', 5, /format\.quote and format\.delimiter are both "'"/);
    });

    it('needs format.columns without a header, and every source among them', () => {
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  header: false'), 'format.header', 4, /header: false needs format\.columns/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  header: false\n  columns: [id, stamp]'), 'columns[1].source', 9, /columns\[1\]\.source "at" is not one of format\.columns \(id, stamp\)/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  columns: [id, at]'), 'format.columns', 4, /set header: false/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  skip_lines: 1001'), 'format.skip_lines', 4, /must be 0 to 1000/);
    });

    it('refuses CSV options on JSON and a records path that is not dotted names', () => {
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: ndjson\n  delimiter: ","'), 'format.delimiter', 4, /applies only to csv files, and this format is ndjson/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: json\n  records_path: "data..readings"'), 'format.records_path', 4, /must be names joined by dots/);
      expectOnlyProblem(MINIMAL.replace('type: csv', 'type: csv\n  records_path: data'), 'format.records_path', 4, /applies only to json files/);
    });
  });

  describe('inputs', () => {
    it('needs at least one input', () => {
      expectOnlyProblem(MINIMAL.replace('inputs: { glob: "*.csv" }', 'inputs: {}'), 'inputs', 1, /inputs names nothing to take/);
    });

    it('refuses globs, folders, sources and kinds that are not safe names', () => {
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', 'glob: "sub/*.csv"'), 'inputs.glob', 1, /may use only letters, digits/);
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', 'glob: "*.csv", folder: .hidden'), 'inputs.folder', 1, /must be one folder name below incoming\//);
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', 'folder: "../etc"'), 'inputs.folder', 1, /must be one folder name/);
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', 's3: { source: Archive, prefix: "x/" }'), 'inputs.s3.source', 1, /not an S3_SOURCES name/);
      expect(problemsOf(MINIMAL.replace('glob: "*.csv"', 's3: { source: archive, prefix: "a/../b" }')).map((p) => p.field)).toEqual(['inputs.s3.prefix']);
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', 'kind: measurement'), 'inputs.kind', 1, /is a kind Sluice reads itself/);
      expectOnlyProblem(MINIMAL.replace('glob: "*.csv"', `glob: "${'a'.repeat(201)}"`), 'inputs.glob', 1, /1 to 200 characters/);
    });
  });
});

describe('contract file names', () => {
  it('takes *.yaml and *.yml, not dotfiles or other files, and names the contract by the file', () => {
    expect(['weather.yaml', 'weather.yml', 'Weather.YAML'].map(isContractFileName)).toEqual([true, true, true]);
    expect(['.weather.yaml', 'weather.json', 'weather.yaml.bak', '.yaml'].map(isContractFileName)).toEqual([false, false, false, false]);
    expect(contractNameOf('/srv/contracts/weather.yml')).toBe('weather');
    expect(contractNameOf('orders.yaml')).toBe('orders');
  });
});
