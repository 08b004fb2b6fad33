import type { Contract, ContractColumn } from '@sluice/datasets';
import type { DataSource } from 'typeorm';
import { DatasetTableError, DatasetTables, formatTableDiff, isMismatch } from './dataset-tables';

const column = (name: string, type: ContractColumn['type'], required = false): ContractColumn => ({ source: name, name, type, required, ambiguous: 'reject' });

function contract(over: Partial<Contract> = {}, table: Partial<Contract['table']> = {}): Contract {
  return {
    name: 'weather',
    inputs: { glob: 'weather_*.csv' },
    format: { type: 'csv', delimiter: ',', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0 },
    columns: [
      column('station', 'text', true),
      column('ts', 'timestamptz', true),
      column('reading_no', 'int'),
      column('total', 'bigint'),
      column('temp', 'float'),
      column('price', 'numeric'),
      column('ok', 'bool'),
      column('day', 'date'),
      column('meta', 'jsonb'),
    ],
    table: { name: 'weather', key: ['station', 'ts'], onDuplicateKey: 'reject', timeColumn: 'ts', ...table },
    drift: 'quarantine',
    ...over,
  };
}

describe(DatasetTables.name, () => {
  const tables = new DatasetTables({} as DataSource, 'datasets');

  it('plans the schema, the table with every type, its lineage columns and composite key, and its indexes', () => {
    expect(tables.plan(contract())).toEqual([
      'CREATE SCHEMA IF NOT EXISTS "datasets"',
      'CREATE TABLE "datasets"."weather" ("station" text NOT NULL, "ts" timestamptz NOT NULL, "reading_no" integer, "total" bigint, ' +
        '"temp" double precision, "price" numeric, "ok" boolean, "day" date, "meta" jsonb, "file_id" uuid NOT NULL, "line" integer NOT NULL, ' +
        'PRIMARY KEY ("station", "ts"))',
      'CREATE INDEX ON "datasets"."weather" ("file_id")',
      'CREATE INDEX ON "datasets"."weather" ("ts")',
    ]);
  });

  it('needs no index of its own for a time column the key starts with, nor any without a time column', () => {
    expect(tables.plan(contract({}, { key: ['ts', 'station'] })).slice(2)).toEqual(['CREATE INDEX ON "datasets"."weather" ("file_id")']);
    expect(tables.plan(contract({}, { timeColumn: undefined })).slice(2)).toEqual(['CREATE INDEX ON "datasets"."weather" ("file_id")']);
  });

  it('makes a key column NOT NULL even when the contract does not require it, and quotes a reserved word', () => {
    const order = contract({ columns: [column('order', 'bigint'), column('note', 'text')] }, { name: 'orders', key: ['order'], timeColumn: undefined });
    expect(new DatasetTables({} as DataSource, 'lab_data').plan(order).slice(0, 2)).toEqual([
      'CREATE SCHEMA IF NOT EXISTS "lab_data"',
      'CREATE TABLE "lab_data"."orders" ("order" bigint NOT NULL, "note" text, "file_id" uuid NOT NULL, "line" integer NOT NULL, PRIMARY KEY ("order"))',
    ]);
  });

  it('refuses a name that is not a plain identifier, even one a reader let through', () => {
    const bad: [string, Contract][] = [
      ['table', contract({}, { name: 'weather"; DROP TABLE ingest_files; --' })],
      ['table upper case', contract({}, { name: 'Weather' })],
      ['table too long', contract({}, { name: 'w'.repeat(64) })],
      ['column', contract({ columns: [...contract().columns, column('x" text); --', 'text')] })],
      ['key', contract({}, { key: ['station', 'ts"'] })],
      ['contract', contract({ name: 'we ather' })],
    ];
    const refusals = bad.map(([what, c]) => {
      try {
        tables.plan(c);
        return [what, 'planned'];
      } catch (e) {
        return [what, (e as Error).name];
      }
    });
    expect(refusals).toEqual(bad.map(([what]) => [what, DatasetTableError.name]));
    expect(() => tables.plan(bad[0][1])).toThrow(/is not a valid table name: lower-case letters, digits and _/);
  });

  it('refuses a type, key, time column or lineage name the table cannot be made with', () => {
    const money = contract({ columns: [column('station', 'text', true), { ...column('ts', 'timestamptz', true), type: 'money' as ContractColumn['type'] }] });
    expect(() => tables.plan(money)).toThrow(/column ts has type "money", not one of text, int, bigint/);
    expect(() => tables.plan(contract({}, { key: [] }))).toThrow(/table.key names no column/);
    expect(() => tables.plan(contract({}, { key: ['station', 'nowhere'] }))).toThrow(/key column nowhere is not one of its columns/);
    expect(() => tables.plan(contract({}, { key: ['station', 'station'] }))).toThrow(/names a column twice/);
    expect(() => tables.plan(contract({}, { timeColumn: 'when' }))).toThrow(/time column "when" is not one of its columns/);
    expect(() => tables.plan(contract({ columns: [...contract().columns, column('file_id', 'text')] }))).toThrow(/file_id is a name every contract table keeps/);
    expect(() => tables.plan(contract({ columns: [...contract().columns, column('temp', 'text')] }))).toThrow(/column temp is named twice/);
    expect(() => tables.plan(contract({ columns: Array.from({ length: 1001 }, (_, i) => column(`c${i}`, 'text')) }))).toThrow(/1001 columns, more than the 1000/);
  });

  it('refuses a schema that is not one of its own', () => {
    for (const schema of ['public', 'pg_catalog', 'information_schema', 'Data', 'x"y']) {
      expect(() => new DatasetTables({} as DataSource, schema)).toThrow(/CONTRACTS_SCHEMA must be a lower-case identifier/);
    }
  });
});

describe(formatTableDiff.name, () => {
  it('says in one line what differs, and that an extra nullable column is fine', () => {
    expect(formatTableDiff({ kind: 'type_differs', column: 'temp', expected: 'double precision', found: 'real' })).toBe('column temp is double precision in the contract but real in the table');
    expect(formatTableDiff({ kind: 'missing_column', column: 'wind', expected: 'numeric' })).toBe('column wind (numeric) is in the contract but not in the table');
    expect(formatTableDiff({ kind: 'key_differs', expected: ['station', 'ts'], found: ['station'] })).toBe('the primary key is (station, ts) in the contract but (station) in the table');
    expect(formatTableDiff({ kind: 'key_differs', expected: ['station'], found: [] })).toBe('the primary key is (station) in the contract but missing in the table');
    expect(formatTableDiff({ kind: 'nullability_differs', column: 'station', expected: 'not_null', found: 'nullable' })).toBe('column station is required (NOT NULL) in the contract but nullable in the table');
    expect(formatTableDiff({ kind: 'lineage_missing', column: 'file_id', expected: 'uuid' })).toBe('column file_id (uuid NOT NULL), which every contract table has, is not in the table');
    const extra = { kind: 'extra_column', column: 'gust', found: 'double precision', fillable: true } as const;
    expect(formatTableDiff(extra)).toBe('column gust (double precision) is in the table but not in the contract: fine, rows leave it null (a column add_columns added, say)');
    expect(isMismatch(extra)).toBe(false);
    expect(isMismatch({ ...extra, found: 'integer NOT NULL', fillable: false })).toBe(true);
  });
});
