import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, parseMetricRanges } from '@sluice/config';
import type { Contract, ContractColumn, ContractFormat, ContractVersion } from '@sluice/datasets';
import { createDataSource, withTransaction } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { ContractLoader, type ContractLoadOptions, type ContractLoadResult } from '../../index';

const SCHEMA = 'datasets';
const skip: ContractLoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.5, ranges: parseMetricRanges(DEFAULT_METRIC_RANGES), naiveTimeZone: 'UTC', schema: SCHEMA };

function col(source: string, name: string, type: ContractColumn['type'], extra: Partial<ContractColumn> = {}): ContractColumn {
  return { source, name, type, required: true, ambiguous: 'reject', ...extra };
}

function csv(overrides: Partial<Extract<ContractFormat, { type: 'csv' }>> = {}): ContractFormat {
  return { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0, ...overrides };
}

function version(contract: Partial<Contract> & Pick<Contract, 'name' | 'columns' | 'table'>): ContractVersion {
  const full: Contract = { inputs: {}, format: csv(), drift: 'quarantine', ...contract };
  return { contract: full, hash: 'f'.repeat(64), text: '', file: `${full.name}.yaml` };
}

describe(ContractLoader.name, () => {
  let db: TestDatabase;
  let ds: DataSource;
  const sut = new ContractLoader();

  beforeAll(async () => {
    db = await createTestDatabase('contract_loader');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    await ds.query(`CREATE SCHEMA ${SCHEMA}`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** Loads a file the way the processor does: its own transaction, ledger row locked. A fileId given loads it again. */
  async function load(v: ContractVersion, text: string, opts: Partial<ContractLoadOptions> = {}, fileId: string = randomUUID()): Promise<ContractLoadResult & { fileId: string }> {
    await ds.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing') ON CONFLICT (id) DO NOTHING`,
      [fileId, fileId.replace(/-/g, '').padEnd(64, '0')],
    );
    return withTransaction(ds, async (client) => {
      await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [fileId]);
      return { ...(await sut.load(client, fileId, v, () => Readable.from([Buffer.from(text)]), { ...skip, ...opts })), fileId };
    });
  }
  const errors = async (fileId: string) => ds.query(`SELECT line, "column", rule, message FROM ingest_errors WHERE file_id = $1 ORDER BY line`, [fileId]);

  describe('a ;-separated CSV with decimal commas and Europe/Berlin local times', () => {
    const weather = version({
      name: 'weather',
      format: csv({ decimalComma: true }),
      timezone: 'Europe/Berlin',
      columns: [col('Zeit', 'ts', 'timestamptz', { formats: ['dd.MM.yyyy HH:mm'] }), col('Station', 'station', 'text'), col('Temperatur', 'temp', 'float'), col('Menge', 'amount', 'numeric', { required: false })],
      table: { name: 'weather', key: ['station', 'ts'], onDuplicateKey: 'reject' },
    });

    beforeAll(async () => {
      await ds.query(`CREATE TABLE ${SCHEMA}.weather (ts timestamptz NOT NULL, station text NOT NULL, temp float8 NOT NULL, amount numeric, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (station, ts))`);
    });

    it('loads the values as UTC instants and numbers, and refuses the time the spring clock change skips with its line and column', async () => {
      const file = ['Zeit;Station;Temperatur;Menge', '01.03.2026 10:00;Nord;3,5;1.234,5', '29.03.2026 01:30;Nord;-1,25;', '29.03.2026 02:30;Nord;0,5;2', '29.03.2026 03:30;"Süd; Ost";12;0,75', ''].join('\n');
      const r = await load(weather, file);
      expect(r).toMatchObject({ rowsTotal: 4, rowsLoaded: 3, rowsRejected: 1, rowsDuplicate: 0, rejection: null, drift: [] });
      const rows = await ds.query(`SELECT ts, station, temp, amount, line FROM ${SCHEMA}.weather WHERE file_id = $1 ORDER BY line`, [r.fileId]);
      expect(rows.map((x: { ts: Date }) => ({ ...x, ts: x.ts.toISOString() }))).toEqual([
        { ts: '2026-03-01T09:00:00.000Z', station: 'Nord', temp: 3.5, amount: '1234.5', line: 2 },
        { ts: '2026-03-29T00:30:00.000Z', station: 'Nord', temp: -1.25, amount: null, line: 3 },
        { ts: '2026-03-29T01:30:00.000Z', station: 'Süd; Ost', temp: 12, amount: '0.75', line: 5 },
      ]);
      expect(await errors(r.fileId)).toEqual([{ line: 4, column: 'Zeit', rule: 'tz_gap', message: expect.stringMatching(/^line 4: /) }]);
    });
  });

  describe('key policies', () => {
    const readings = (onDuplicateKey: 'reject' | 'skip', table: string) =>
      version({ name: table, columns: [col('id', 'id', 'int'), col('value', 'value', 'text')], table: { name: table, key: ['id'], onDuplicateKey } });

    beforeAll(async () => {
      for (const t of ['rejecting', 'skipping', 'replayed']) {
        await ds.query(`CREATE TABLE ${SCHEMA}.${t} (id integer NOT NULL, value text NOT NULL, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (id))`);
      }
    });

    it('reject: a key repeated in the file or loaded by another file is a duplicate_key row error naming where, and the other rows load', async () => {
      const v = readings('reject', 'rejecting');
      const first = await load(v, 'id;value\n1;a\n2;b\n3;c\n');
      expect(first).toMatchObject({ rowsLoaded: 3, rowsRejected: 0, rejection: null });
      const second = await load(v, 'id;value\n3;changed\n4;d\n4;again\n5;e\n');
      expect(second).toMatchObject({ rowsTotal: 4, rowsLoaded: 2, rowsRejected: 2, rowsDuplicate: 0, rejection: null });
      expect(await errors(second.fileId)).toEqual([
        { line: 2, column: 'id', rule: 'duplicate_key', message: expect.stringContaining(`already loaded from line 4 of file ${first.fileId}`) },
        { line: 4, column: 'id', rule: 'duplicate_key', message: expect.stringContaining('already on line 3 of this file') },
      ]);
      expect(await ds.query(`SELECT id, value, file_id = $1 AS second FROM ${SCHEMA}.rejecting ORDER BY id`, [second.fileId])).toEqual([
        { id: 1, value: 'a', second: false },
        { id: 2, value: 'b', second: false },
        { id: 3, value: 'c', second: false },
        { id: 4, value: 'd', second: true },
        { id: 5, value: 'e', second: true },
      ]);
    });

    it('skip: keys already loaded and repeats in the file are left alone and counted as duplicates', async () => {
      const v = readings('skip', 'skipping');
      await load(v, 'id;value\n1;a\n');
      const r = await load(v, 'id;value\n1;changed\n2;b\n2;again\n');
      expect(r).toMatchObject({ rowsTotal: 3, rowsLoaded: 1, rowsRejected: 0, rowsDuplicate: 2, rejection: null });
      expect(await errors(r.fileId)).toEqual([]);
      expect(await ds.query(`SELECT id, value FROM ${SCHEMA}.skipping ORDER BY id`)).toEqual([
        { id: 1, value: 'a' },
        { id: 2, value: 'b' },
      ]);
    });

    it('loading the same file again changes nothing, and reports the same', async () => {
      const v = readings('reject', 'replayed');
      const text = 'id;value\n1;a\n2;b\n2;repeat\n3;x\n';
      const first = await load(v, text);
      const snapshot = async () => ds.query(`SELECT id, value, file_id, line, xmin::text AS version FROM ${SCHEMA}.replayed ORDER BY id`);
      const before = await snapshot();
      const again = await load(v, text, {}, first.fileId);
      expect(again).toEqual(first);
      expect(await snapshot()).toEqual(before);
      expect(await errors(first.fileId)).toEqual([{ line: 4, column: 'id', rule: 'duplicate_key', message: expect.stringContaining('already on line 3 of this file') }]);
    });

    it('a repeat of a key past those memory holds is found by the table\'s key, with the same outcome', async () => {
      const text = 'id;value\n21;a\n22;b\n22;repeat\n23;c\n24;d\n';
      const inMemory = await load(readings('reject', 'rejecting'), text);
      await ds.query(`DELETE FROM ${SCHEMA}.rejecting WHERE file_id = $1`, [inMemory.fileId]);
      const staged = await withTransaction(ds, async (client) => {
        await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [inMemory.fileId]);
        return new ContractLoader({ maxMemoryKeys: 1 }).load(client, inMemory.fileId, readings('reject', 'rejecting'), () => Readable.from([Buffer.from(text)]), skip);
      });
      expect({ ...staged, fileId: inMemory.fileId }).toEqual(inMemory);
      expect(inMemory).toMatchObject({ rowsTotal: 5, rowsLoaded: 4, rowsRejected: 1 });
      expect(await errors(inMemory.fileId)).toEqual([{ line: 4, column: 'id', rule: 'duplicate_key', message: expect.stringContaining('already on line 3 of this file') }]);
      expect(await ds.query(`SELECT id, line FROM ${SCHEMA}.rejecting WHERE file_id = $1 ORDER BY id`, [inMemory.fileId])).toEqual([
        { id: 21, line: 2 },
        { id: 22, line: 3 },
        { id: 23, line: 5 },
        { id: 24, line: 6 },
      ]);
    });

    it('a file over MAX_INVALID_RATIO is refused and leaves no rows behind', async () => {
      await ds.query(`TRUNCATE ${SCHEMA}.rejecting`);
      const v = readings('reject', 'rejecting');
      const r = await load(v, 'id;value\n1;a\nx;b\ny;c\n2;d\n', { maxInvalidRatio: 0.25 });
      expect(r.rejection).toMatchObject({ rule: 'too_many_invalid_rows', line: 3 });
      expect(r).toMatchObject({ rowsTotal: 4, rowsLoaded: 0, rowsRejected: 2 });
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.rejecting`)).toEqual([{ n: 0 }]);
      expect((await errors(r.fileId)).map((e: { line: number; rule: string }) => [e.line, e.rule])).toEqual([
        [3, 'not_a_number'],
        [4, 'not_a_number'],
      ]);
    });
    it('INVALID_ROWS=reject refuses a file with one invalid row', async () => {
      const v = readings('reject', 'rejecting');
      const r = await load(v, 'id;value\n100;a\n101;b\nnope;c\n', { invalidRows: 'reject' });
      expect(r.rejection).toMatchObject({ rule: 'not_a_number', line: 4, column: 'id' });
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.rejecting WHERE file_id = $1`, [r.fileId])).toEqual([{ n: 0 }]);
    });

    it('a header it cannot use refuses the file, with the reason as its row error', async () => {
      const v = readings('reject', 'rejecting');
      const r = await load(v, 'id;value;id\n200;a;1\n');
      expect(r.rejection).toMatchObject({ rule: 'invalid_header', line: 1, message: expect.stringContaining('names column "id" twice') });
      expect(r.rowsLoaded).toBe(0);
      expect(await errors(r.fileId)).toEqual([expect.objectContaining({ line: 1, rule: 'invalid_header' })]);
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.rejecting WHERE file_id = $1`, [r.fileId])).toEqual([{ n: 0 }]);
    });
  });

  describe('NDJSON with newest_wins by updated_at', () => {
    const versions = version({
      name: 'devices',
      format: { type: 'ndjson' },
      columns: [col('id', 'id', 'text'), col('meta.updated_at', 'updated_at', 'timestamptz'), col('state', 'state', 'text')],
      table: { name: 'devices', key: ['id'], onDuplicateKey: 'newest_wins', newestBy: 'updated_at' },
    });
    const line = (id: string, at: string, state: string) => JSON.stringify({ id, meta: { updated_at: at }, state });

    beforeAll(async () => {
      await ds.query(`CREATE TABLE ${SCHEMA}.devices (id text NOT NULL, updated_at timestamptz NOT NULL, state text NOT NULL, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (id))`);
    });

    it('across two files the newer update wins, an older one loses and a tie keeps the row first loaded; within a file the newest, then the last line', async () => {
      const first = await load(
        versions,
        [line('a', '2026-03-01T10:00:00Z', 'a1'), line('b', '2026-03-01T10:00:00Z', 'b1'), line('c', '2026-03-01T10:00:00Z', 'c1')].join('\n'),
      );
      expect(first).toMatchObject({ rowsLoaded: 3, rowsDuplicate: 0, rejection: null });
      const secondText = [
          line('a', '2026-03-01T09:00:00Z', 'a-older'),
          line('b', '2026-03-01T11:00:00Z', 'b-newer'),
          line('c', '2026-03-01T10:00:00Z', 'c-tie'),
          line('d', '2026-03-02T10:00:00Z', 'd-newest'),
          line('d', '2026-03-01T10:00:00Z', 'd-older'),
          line('e', '2026-03-01T10:00:00Z', 'e-first'),
          line('e', '2026-03-01T10:00:00Z', 'e-last'),
        ].join('\n');
      const second = await load(versions, secondText);
      expect(second).toMatchObject({ rowsTotal: 7, rowsLoaded: 3, rowsRejected: 0, rowsDuplicate: 4, rejection: null });
      const rows = await ds.query(`SELECT id, state, file_id = $1 AS second, line FROM ${SCHEMA}.devices ORDER BY id`, [second.fileId]);
      expect(rows).toEqual([
        { id: 'a', state: 'a1', second: false, line: 1 },
        { id: 'b', state: 'b-newer', second: true, line: 2 },
        { id: 'c', state: 'c1', second: false, line: 3 },
        { id: 'd', state: 'd-newest', second: true, line: 4 },
        { id: 'e', state: 'e-last', second: true, line: 7 },
      ]);
      // Loading the second file again changes nothing.
      const snapshot = async () => ds.query(`SELECT id, state, xmin::text AS version FROM ${SCHEMA}.devices ORDER BY id`);
      const before = await snapshot();
      expect(await load(versions, secondText, {}, second.fileId)).toEqual(second);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('a JSON document', () => {
    it('loads the records under data.items, nested fields by their dotted path', async () => {
      await ds.query(`CREATE TABLE ${SCHEMA}.orders (order_id bigint NOT NULL, customer text, total numeric NOT NULL, tags jsonb, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (order_id))`);
      const v = version({
        name: 'orders',
        format: { type: 'json', recordsPath: 'data.items' },
        columns: [col('id', 'order_id', 'bigint'), col('customer.name', 'customer', 'text', { required: false }), col('total', 'total', 'numeric'), col('tags', 'tags', 'jsonb', { required: false })],
        table: { name: 'orders', key: ['order_id'], onDuplicateKey: 'reject' },
      });
      const doc = {
        meta: { page: 1 },
        data: {
          items: [
            { id: 1, customer: { name: 'Ada' }, total: 12.5, tags: ['a', 'b'] },
            { id: 2, customer: { name: null }, total: '7', tags: null },
            { id: 3, customer: { name: 'Bob' }, total: 'lots', tags: [] },
          ],
        },
      };
      const r = await load(v, JSON.stringify(doc, null, 1));
      // "lots" retypes the required column total as the diff sees it; a required column's misfit is a row error.
      expect(r).toMatchObject({ rowsTotal: 3, rowsLoaded: 2, rowsRejected: 1, rejection: null, drift: [expect.objectContaining({ change: 'type_changed', source: 'total', sample: 'lots' })] });
      expect(await ds.query(`SELECT order_id, customer, total, tags FROM ${SCHEMA}.orders ORDER BY order_id`)).toEqual([
        { order_id: '1', customer: 'Ada', total: '12.5', tags: ['a', 'b'] },
        { order_id: '2', customer: null, total: '7', tags: null },
      ]);
      expect(await errors(r.fileId)).toEqual([{ line: expect.any(Number), column: 'total', rule: 'not_a_number', message: expect.any(String) }]);
    });
  });

  describe('drift', () => {
    const columns = [col('ts', 'ts', 'timestamptz'), col('temp', 'temp', 'float'), col('note', 'note', 'text', { required: false })];
    const contract = (drift: Contract['drift'], table: string) => version({ name: table, drift, columns, table: { name: table, key: ['ts'], onDuplicateKey: 'reject' } });
    const file = 'ts;temp;Wind Speed\n2026-03-01T10:00:00Z;3.5;12\n2026-03-01T11:00:00Z;4;14\n';

    beforeAll(async () => {
      for (const t of ['drift_q', 'drift_i', 'drift_a']) {
        await ds.query(`CREATE TABLE ${SCHEMA}.${t} (ts timestamptz NOT NULL, temp float8 NOT NULL, note text, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (ts))`);
      }
      await ds.query(`CREATE TABLE ${SCHEMA}.drift_r (ts timestamptz NOT NULL, level integer, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (ts))`);
    });

    it('quarantine: a file with an extra column and without an optional one is refused with the differences, nothing written', async () => {
      const r = await load(contract('quarantine', 'drift_q'), file);
      expect(r.rejection).toEqual({
        rule: 'schema_drift',
        message: `the file's columns differ from contract "drift_q" (drift: quarantine refuses such a file): - note: missing; + Wind Speed (int): new column`,
        line: 1,
      });
      expect(r.drift).toEqual([
        { change: 'removed', source: 'note', name: 'note' },
        { change: 'added', source: 'Wind Speed', inferredType: 'int' },
      ]);
      expect(r.rowsLoaded).toBe(0);
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.drift_q`)).toEqual([{ n: 0 }]);
      expect(await errors(r.fileId)).toEqual([expect.objectContaining({ rule: 'schema_drift', column: null })]);
    });

    it('quarantine: a file whose columns are the contract\'s loads', async () => {
      const r = await load(contract('quarantine', 'drift_q'), 'ts;temp;note\n2026-03-01T10:00:00Z;3.5;ok\n');
      expect(r).toMatchObject({ rowsLoaded: 1, rejection: null, drift: [] });
    });

    it('ignore_extra: the rows load without the extra column, the missing optional one null', async () => {
      const r = await load(contract('ignore_extra', 'drift_i'), file);
      expect(r).toMatchObject({ rowsLoaded: 2, rejection: null });
      expect(r.drift.length).toBeGreaterThan(0);
      expect(await ds.query(`SELECT temp, note FROM ${SCHEMA}.drift_i ORDER BY ts`)).toEqual([
        { temp: 3.5, note: null },
        { temp: 4, note: null },
      ]);
    });

    it('ignore_extra: a missing required column still refuses the file', async () => {
      const r = await load(contract('ignore_extra', 'drift_i'), 'ts;note\n2026-03-05T10:00:00Z;x\n');
      expect(r.rejection).toMatchObject({ rule: 'schema_drift', message: expect.stringContaining('"temp"') });
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.drift_i WHERE file_id = $1`, [r.fileId])).toEqual([{ n: 0 }]);
    });

    /** Adds columns the way the caller does: in the load's transaction. */
    const addColumns = (calls: ContractColumn[][], table = 'drift_a'): Partial<ContractLoadOptions> => ({
      addColumns: async (added, client) => {
        calls.push(added);
        for (const c of added) await client.query(`ALTER TABLE ${SCHEMA}.${table} ADD COLUMN IF NOT EXISTS "${c.name}" text`);
      },
    });
    const hasColumn = async (name: string) =>
      (await ds.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'drift_a' AND column_name = $2`, [SCHEMA, name])).length > 0;

    it('add_columns: a file refused takes back the column it added', async () => {
      const calls: ContractColumn[][] = [];
      const r = await load(contract('add_columns', 'drift_a'), 'ts;temp;Gust\n2026-03-01T10:00:00Z;warm;3\n2026-03-01T11:00:00Z;warmer;4\n', addColumns(calls));
      expect(calls).toHaveLength(1);
      expect(r.rejection).toMatchObject({ rule: 'too_many_invalid_rows' });
      expect(await hasColumn('gust')).toBe(false);
    });

    it('add_columns: the callback adds the new column in the transaction, once, and its values load as text', async () => {
      const calls: ContractColumn[][] = [];
      const r = await load(contract('add_columns', 'drift_a'), file, addColumns(calls));
      expect(calls).toEqual([[expect.objectContaining({ source: 'Wind Speed', name: 'wind_speed', type: 'text', required: false })]]);
      expect(r).toMatchObject({ rowsLoaded: 2, rejection: null });
      expect(await ds.query(`SELECT temp, wind_speed FROM ${SCHEMA}.drift_a ORDER BY ts`)).toEqual([
        { temp: 3.5, wind_speed: '12' },
        { temp: 4, wind_speed: '14' },
      ]);
      // The same file again (through the staging table, its keys being there) asks for the column again and changes nothing.
      expect(await load(contract('add_columns', 'drift_a'), file, addColumns(calls), r.fileId)).toEqual(r);
      expect(calls).toHaveLength(2);
      expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.drift_a`)).toEqual([{ n: 2 }]);
    });

    describe('a retyped optional column (its first values hold one that is no longer an int)', () => {
      const levels = [col('ts', 'ts', 'timestamptz'), col('level', 'level', 'int', { required: false })];
      const retyped = (drift: Contract['drift']) => version({ name: 'drift_r', drift, columns: levels, table: { name: 'drift_r', key: ['ts'], onDuplicateKey: 'reject' } });
      const levelFile = 'ts;level\n2026-03-01T10:00:00Z;5\n2026-03-01T11:00:00Z;high\n2026-03-01T12:00:00Z;7\n';
      const stored = () => ds.query(`SELECT level, level_raw FROM ${SCHEMA}.drift_r ORDER BY ts`);

      it('quarantine: the value that does not fit is a row error', async () => {
        const r = await load(retyped('quarantine'), levelFile);
        expect(r).toMatchObject({ rowsLoaded: 2, rowsRejected: 1, rejection: null });
        expect(r.drift).toEqual([{ change: 'type_changed', source: 'level', name: 'level', expected: 'int', found: 'text', sample: 'high' }]);
        expect(await errors(r.fileId)).toEqual([expect.objectContaining({ line: 3, column: 'level', rule: 'not_a_number' })]);
        await ds.query(`DELETE FROM ${SCHEMA}.drift_r`);
      });

      it('add_columns: every row loads, the misfit kept as text in level_raw; a replay (the slow pass) changes nothing', async () => {
        const calls: ContractColumn[][] = [];
        const r = await load(retyped('add_columns'), levelFile, addColumns(calls, 'drift_r'));
        expect(calls).toEqual([[{ source: 'level', name: 'level_raw', type: 'text', required: false, ambiguous: 'reject' }]]);
        expect(r).toMatchObject({ rowsLoaded: 3, rowsRejected: 0, rejection: null });
        const rows = [
          { level: 5, level_raw: null },
          { level: null, level_raw: 'high' },
          { level: 7, level_raw: null },
        ];
        expect(await stored()).toEqual(rows);
        expect(await load(retyped('add_columns'), levelFile, addColumns(calls, 'drift_r'), r.fileId)).toEqual(r);
        expect(await stored()).toEqual(rows);
      });

      it('ignore_extra: every row loads, the misfit null', async () => {
        await ds.query(`DELETE FROM ${SCHEMA}.drift_r`);
        const r = await load(retyped('ignore_extra'), levelFile);
        expect(r).toMatchObject({ rowsLoaded: 3, rowsRejected: 0, rejection: null });
        expect((await stored()).map((s: { level: number | null }) => s.level)).toEqual([5, null, 7]);
      });
    });

    it('add_columns: a new column that cannot be named refuses the file', async () => {
      const r = await load(contract('add_columns', 'drift_a'), 'ts;temp;2nd\n2026-03-02T10:00:00Z;1;x\n', addColumns([]));
      expect(r.rejection).toMatchObject({ rule: 'schema_drift', message: expect.stringContaining('"2nd" cannot be made a column name') });
    });
  });

  it('loads a 200,000-row CSV in several batches', async () => {
    await ds.query(`CREATE TABLE ${SCHEMA}.big (id integer NOT NULL, station text NOT NULL, value float8, file_id uuid NOT NULL, line integer NOT NULL, PRIMARY KEY (id))`);
    const v = version({ name: 'big', columns: [col('id', 'id', 'int'), col('station', 'station', 'text'), col('value', 'value', 'float')], table: { name: 'big', key: ['id'], onDuplicateKey: 'reject' } });
    const lines = ['id;station;value'];
    for (let i = 0; i < 200_000; i++) lines.push(`${i};station ${i % 13};${(i % 1000) / 10}`);
    const text = `${lines.join('\n')}\n`;
    let progress = 0;
    const fileId = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processing')`, [
      fileId,
      fileId.replace(/-/g, '').padEnd(64, '0'),
    ]);
    // 64 KiB chunks, as a file stream reads them.
    const chunks = () => Readable.from(Array.from({ length: Math.ceil(text.length / 65536) }, (_, i) => Buffer.from(text.slice(i * 65536, (i + 1) * 65536))));
    const r = await withTransaction(ds, async (client) => sut.load(client, fileId, v, chunks, { ...skip, onProgress: () => progress++ }));
    expect(r).toMatchObject({ rowsTotal: 200_000, rowsLoaded: 200_000, rejection: null });
    expect(progress).toBeGreaterThan(1);
    expect(await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.big`)).toEqual([{ n: 200_000 }]);
  });
});
