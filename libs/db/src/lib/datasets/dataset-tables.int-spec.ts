import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import type { Contract, ContractColumn, ContractVersion } from '@sluice/datasets';
import type { DataSource } from 'typeorm';
import { migratedDatabase } from '../../../test/migrated-database';
import { withConnection, withTransaction } from '../transaction';
import { DatasetTables, type EnsureResult } from './dataset-tables';


const column = (name: string, type: ContractColumn['type'], required = false): ContractColumn => ({ source: name, name, type, required, ambiguous: 'reject' });

function version(table: string, over: Partial<Contract> = {}): ContractVersion {
  const contract: Contract = {
    name: table,
    inputs: { glob: `${table}_*.csv` },
    format: { type: 'csv', delimiter: ',', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0 },
    columns: [column('station', 'text', true), column('ts', 'timestamptz', true), column('temp', 'float'), column('note', 'text')],
    table: { name: table, key: ['station', 'ts'], onDuplicateKey: 'reject', timeColumn: 'ts' },
    drift: 'add_columns',
    ...over,
  };
  const text = JSON.stringify(contract);
  return { contract, text, hash: createHash('sha256').update(text).digest('hex'), file: `contracts/${table}.yaml` };
}

describe(DatasetTables.name, () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let ds: DataSource;
  let tables: DatasetTables;

  beforeAll(async () => {
    db = await migratedDatabase('dataset_tables');
    ds = db.ds;
    tables = new DatasetTables(ds, 'datasets');
  });

  afterAll(async () => {
    await db?.drop();
  });

  const ensure = (v: ContractVersion, on = tables) => withTransaction(ds, (client) => on.ensure(client, v));
  const columnsOf = async (table: string, schema = 'datasets') =>
    (await ds.query(
      `SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, table],
    )) as { name: string; type: string; nullable: string }[];
  const indexesOf = async (table: string, schema = 'datasets') =>
    ((await ds.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname`, [schema, table])) as { indexdef: string }[]).map((r) => r.indexdef);
  const ddlOf = async (contract: string) =>
    ((await ds.query(`SELECT contract_hash AS hash, statement FROM dataset_ddl WHERE contract_name = $1 ORDER BY id`, [contract])) as { hash: string; statement: string }[]);

  it('makes the table, its key and indexes, and records the version and every statement it ran; a second time does nothing', async () => {
    const weather = version('weather');
    const first = await ensure(weather);
    expect(first).toEqual({ created: true, statements: tables.plan(weather.contract) });
    expect(await columnsOf('weather')).toEqual([
      { name: 'station', type: 'text', nullable: 'NO' },
      { name: 'ts', type: 'timestamp with time zone', nullable: 'NO' },
      { name: 'temp', type: 'double precision', nullable: 'YES' },
      { name: 'note', type: 'text', nullable: 'YES' },
      { name: 'file_id', type: 'uuid', nullable: 'NO' },
      { name: 'line', type: 'integer', nullable: 'NO' },
    ]);
    expect(await indexesOf('weather')).toEqual([
      'CREATE INDEX weather_file_id_idx ON datasets.weather USING btree (file_id)',
      'CREATE UNIQUE INDEX weather_pkey ON datasets.weather USING btree (station, ts)',
      'CREATE INDEX weather_ts_idx ON datasets.weather USING btree (ts)',
    ]);
    // No foreign key to the ledger: lineage is the file_id column.
    expect(await ds.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'datasets.weather'::regclass AND contype = 'f'`)).toEqual([]);
    expect(await ddlOf('weather')).toEqual(tables.plan(weather.contract).map((statement) => ({ hash: weather.hash, statement })));
    expect(await ds.query(`SELECT name, hash, text FROM contract_versions WHERE name = 'weather'`)).toEqual([{ name: 'weather', hash: weather.hash, text: weather.text }]);

    expect(await ensure(weather)).toEqual({ created: false, statements: [] });
    expect(await ddlOf('weather')).toHaveLength(4);
    expect(await ds.query(`SELECT count(*)::int AS n FROM contract_versions WHERE name = 'weather'`)).toEqual([{ n: 1 }]);
    expect(await withConnection(ds, (client) => tables.inspect(client, weather.contract))).toEqual({ exists: true, matches: true, diff: [] });
    await expect(withConnection(ds, (client) => tables.record(client, { ...weather, hash: 'ABC' }))).rejects.toThrow(/is not a sha256 in hex/);
    await expect(withConnection(ds, (client) => tables.record(client, { ...weather, text: 'x'.repeat(1024 ** 2 + 1) }))).rejects.toThrow(/too large to record/);
  });

  it('refuses a table that differs from its contract with exactly those differences, and leaves it as it is', async () => {
    await ds.query(`CREATE SCHEMA IF NOT EXISTS datasets`);
    await ds.query(`CREATE TABLE datasets.drifted (station text NOT NULL, ts timestamptz NOT NULL, temp real, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (station))`);
    const before = await columnsOf('drifted');
    const drifted = version('drifted');
    const result = await ensure(drifted);
    expect(result).toEqual({
      refused: [
        'column temp is double precision in the contract but real in the table',
        'column note (text) is in the contract but not in the table',
        'the primary key is (station, ts) in the contract but (station) in the table',
      ],
      diff: [
        { kind: 'type_differs', column: 'temp', expected: 'double precision', found: 'real' },
        { kind: 'missing_column', column: 'note', expected: 'text' },
        { kind: 'key_differs', expected: ['station', 'ts'], found: ['station'] },
      ],
    });
    expect(await columnsOf('drifted')).toEqual(before);
    expect(await indexesOf('drifted')).toEqual(['CREATE UNIQUE INDEX drifted_pkey ON datasets.drifted USING btree (station)']);
    expect(await ddlOf('drifted')).toEqual([]);
  });

  it('refuses a table without lineage, or with a required column nullable, or one it could not load without a value', async () => {
    await ds.query(`CREATE TABLE datasets.bare (station text, ts timestamptz NOT NULL, temp double precision, note text NOT NULL, extra int NOT NULL, PRIMARY KEY (ts))`);
    const bare = version('bare', { table: { name: 'bare', key: ['ts'], onDuplicateKey: 'reject' } });
    const result = (await ensure(bare)) as Extract<EnsureResult, { refused: string[] }>;
    expect(result.refused).toEqual([
      'column station is required (NOT NULL) in the contract but nullable in the table',
      'column note may be empty in the contract but is NOT NULL in the table: a row without it could not be loaded',
      'column file_id (uuid NOT NULL), which every contract table has, is not in the table',
      'column line (integer NOT NULL), which every contract table has, is not in the table',
      'column extra (integer NOT NULL) is in the table but not in the contract, and no row could be loaded without a value for it',
    ]);
  });

  it('accepts a table with an extra nullable column, saying so', async () => {
    const grown = version('grown');
    await ensure(grown);
    await ds.query(`ALTER TABLE datasets.grown ADD COLUMN gust double precision`);
    expect(await ensure(grown)).toEqual({ created: false, statements: [] });
    expect(await withConnection(ds, (client) => tables.inspect(client, grown.contract))).toEqual({
      exists: true,
      matches: true,
      diff: [{ kind: 'extra_column', column: 'gust', found: 'double precision', fillable: true }],
    });
  });

  it('adds nullable columns and records them; one already there is left, one of another type refused', async () => {
    const wide = version('wide');
    await ensure(wide);
    const added = await withTransaction(ds, (client) => tables.addColumns(client, wide, [column('wind', 'numeric', true), column('seen', 'bool')]));
    expect(added).toEqual({ statements: ['ALTER TABLE "datasets"."wide" ADD COLUMN "wind" numeric, ADD COLUMN "seen" boolean'] });
    expect((await columnsOf('wide')).slice(-2)).toEqual([
      { name: 'wind', type: 'numeric', nullable: 'YES' },
      { name: 'seen', type: 'boolean', nullable: 'YES' },
    ]);
    expect((await ddlOf('wide')).at(-1)).toEqual({ hash: wide.hash, statement: 'ALTER TABLE "datasets"."wide" ADD COLUMN "wind" numeric, ADD COLUMN "seen" boolean' });

    expect(await withTransaction(ds, (client) => tables.addColumns(client, wide, [column('wind', 'numeric')]))).toEqual({ statements: [] });
    expect(await withTransaction(ds, (client) => tables.addColumns(client, wide, [column('seen', 'int')]))).toEqual({ refused: ['column seen is integer in the contract but boolean in the table'] });
    await expect(withTransaction(ds, (client) => tables.addColumns(client, version('nowhere'), [column('x', 'text')]))).rejects.toThrow(/its table datasets.nowhere does not exist/);
    expect(await ddlOf('wide')).toHaveLength(5);
  });

  it('makes a new table once when two processes ensure it at the same time, both succeeding', async () => {
    // Two versions of one contract (the same table): neither waits on the other's version row, only on the table's lock.
    const [older, newer] = [version('twice'), version('twice', { drift: 'ignore_extra' })];
    const results = await Promise.all([ensure(older), ensure(newer, new DatasetTables(ds, 'datasets'))]);
    expect(results.map((r) => ('created' in r ? r.created : r.refused)).sort()).toEqual([false, true]);
    expect(await ddlOf('twice')).toHaveLength(4);
    expect(await ds.query(`SELECT count(*)::int AS n FROM contract_versions WHERE name = 'twice'`)).toEqual([{ n: 2 }]);
    // And two new tables at once in a schema not made yet.
    const schema = new DatasetTables(ds, 'fresh');
    const made = await Promise.all([ensure(version('one'), schema), ensure(version('two'), schema)]);
    expect(made.map((r) => 'created' in r && r.created)).toEqual([true, true]);
  });

  it('puts back the lock timeout of the transaction it ran in, and leaves nothing when that transaction rolls back', async () => {
    const rolled = version('rolled');
    const timeout = await withTransaction(ds, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '42s'`);
      await tables.ensure(client, rolled);
      return (await client.query(`SHOW lock_timeout`)).rows[0].lock_timeout as string;
    });
    expect(timeout).toBe('42s');
    await ds.query(`DROP TABLE datasets.rolled`);
    await ds.query(`DELETE FROM dataset_ddl WHERE contract_name = 'rolled'`);
    await expect(
      withTransaction(ds, async (client) => {
        await tables.ensure(client, version('rolled', { drift: 'quarantine' }));
        throw new Error('the load failed');
      }),
    ).rejects.toThrow('the load failed');
    expect(await columnsOf('rolled')).toEqual([]);
    expect(await ddlOf('rolled')).toEqual([]);
  });

  it('makes the tables in the schema CONTRACTS_SCHEMA names', async () => {
    const config = loadConfig(ProcessorConfig, { CONTRACTS_SCHEMA: 'lab_data' });
    const lab = version('samples');
    expect(await ensure(lab, new DatasetTables(ds, config.CONTRACTS_SCHEMA))).toEqual(expect.objectContaining({ created: true }));
    expect((await columnsOf('samples', 'lab_data')).map((c) => c.name)).toEqual(['station', 'ts', 'temp', 'note', 'file_id', 'line']);
    expect(await columnsOf('samples', 'datasets')).toEqual([]);
    expect((await ddlOf('samples'))[1].statement).toMatch(/^CREATE TABLE "lab_data"."samples" /);
  });
});
