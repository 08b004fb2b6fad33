import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readContract, type ContractVersion } from '@sluice/datasets';
import { migratedDatabase } from '../../../test/migrated-database';
import { datasetFigures, EXACT_ROW_COUNT_LIMIT } from './dataset-figures';
import { DatasetTables } from './dataset-tables';

jest.setTimeout(60_000);

function example(name: string): ContractVersion {
  const file = join(__dirname, '../../../../../examples/contracts', `${name}.yaml`);
  const read = readContract(file, readFileSync(file));
  if (!('version' in read)) throw new Error(JSON.stringify(read.problems));
  return read.version;
}

describe(datasetFigures.name, () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  const [weather, meters, orders] = ['weather', 'meters', 'orders'].map(example);

  beforeAll(async () => {
    db = await migratedDatabase('dataset_figures');
    const tables = new DatasetTables(db.ds, 'figures');
    await tables.prepare(weather);
    await tables.prepare(meters);
    await db.ds.query(
      `INSERT INTO figures.weather (station, observed_at, file_id, line)
       SELECT 'S-1', timestamptz '2024-01-01' + n * interval '1 minute', gen_random_uuid(), n::int FROM generate_series(1, 3) n`,
    );
    await db.ds.query(
      `INSERT INTO figures.meter_readings (meter, read_at, kwh, quality, file_id, line)
       SELECT 'M-1', timestamptz '2024-01-01' + n * interval '1 second', 1, 'measured', gen_random_uuid(), 1 FROM generate_series(1, $1::int) n`,
      [EXACT_ROW_COUNT_LIMIT + 500],
    );
    await db.ds.query(`ANALYZE figures.meter_readings`);
    await db.ds.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, contract_name, contract_hash, finished_at)
       VALUES (gen_random_uuid(), 'dropzone', 'w1.csv', 'processed/w1.csv', repeat('a', 64), 1, 'contract', 'processed', 'weather', $1, '2026-01-05T10:00:00Z'),
              (gen_random_uuid(), 'dropzone', 'w2.csv', 'processed/w2.csv', repeat('b', 64), 1, 'contract', 'failed', 'weather', $1, '2026-01-05T12:00:00.000001Z'),
              (gen_random_uuid(), 'dropzone', 'w3.csv', 'processing/w3.csv', repeat('c', 64), 1, 'contract', 'processing', 'weather', $1, NULL)`,
      [weather.hash],
    );
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('counts a small table exactly, estimates one past the limit, and gives a table not made yet 0 rows', async () => {
    const figures = await datasetFigures(db.ds, 'figures', [meters, orders, weather]);
    expect(figures.map((f) => f.name)).toEqual(['meters', 'orders', 'weather']);
    const [m, o, w] = figures;
    expect(w).toEqual({
      name: 'weather',
      table: 'figures.weather',
      version: weather.hash,
      first_used_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      table_exists: true,
      rows: 3,
      rows_exact: true,
      files: { processed: 1, failed: 1, processing: 1 },
      last_load_at: '2026-01-05T12:00:00.000001Z',
    });
    expect(m).toMatchObject({ table: 'figures.meter_readings', table_exists: true, rows_exact: false, files: {}, last_load_at: null });
    // The planner's estimate after ANALYZE: within a few per cent of the truth, never below what was counted.
    expect(m.rows).toBeGreaterThan(EXACT_ROW_COUNT_LIMIT);
    expect(Math.abs(m.rows - (EXACT_ROW_COUNT_LIMIT + 500))).toBeLessThan(5000);
    expect(o).toEqual({ name: 'orders', table: 'figures.orders', version: orders.hash, first_used_at: null, table_exists: false, rows: 0, rows_exact: true, files: {}, last_load_at: null });
  });

  it('answers for no contracts without a query, and for a schema not made yet', async () => {
    expect(await datasetFigures({ query: () => Promise.reject(new Error('no query expected')) }, 'figures', [])).toEqual([]);
    const [w] = await datasetFigures(db.ds, 'nowhere', [weather]);
    expect(w).toMatchObject({ table: 'nowhere.weather', table_exists: false, rows: 0, files: { processed: 1, failed: 1, processing: 1 } });
  });
});
