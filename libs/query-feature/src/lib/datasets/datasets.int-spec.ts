import { parse } from 'csv-parse/sync';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readContract, type ContractVersion } from '@sluice/datasets';
import { createDataSource, DatasetTables } from '@sluice/db';
import { Client } from 'pg';
import { type Json, type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';
import { encodeDatasetCursor } from './dataset-cursor';

jest.setTimeout(60_000);

const KEY = 'qk-datasets-secret';
const EXAMPLES = join(__dirname, '../../../../../examples/contracts');
const FILES = ['a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000004'];
const STATIONS = ['DWD-10385', 'DWD-A2'];
/** 2 stations × 12 half hours from 2024-03-30T19:00Z: 24 weather rows. */
const HALF_HOURS = 12;
const START = Date.parse('2024-03-30T19:00:00Z');

function version(name: string): ContractVersion {
  const file = join(EXAMPLES, `${name}.yaml`);
  const read = readContract(file, readFileSync(file));
  if (!('version' in read)) throw new Error(`${name}.yaml: ${JSON.stringify(read.problems)}`);
  return read.version;
}

/** The folder the query-api reads: three examples (weather and orders with tables, meters without) and a broken file. */
function contractsFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-datasets-'));
  for (const name of ['weather', 'orders', 'meters']) copyFileSync(join(EXAMPLES, `${name}.yaml`), join(dir, `${name}.yaml`));
  // A contract without a time column.
  const stations = readFileSync(join(EXAMPLES, 'weather.yaml'), 'utf8').replace('weather_*.csv', 'stations_*.csv').replace(/^\s*time_column:.*\n/m, '');
  writeFileSync(join(dir, 'stations.yaml'), stations);
  writeFileSync(join(dir, 'broken.yaml'), 'inputs:\n  glob: "x_*.csv"\nformat:\n  type: csv\ncolumns:\n  - { source: a, name: a, type: money }\ntable:\n  key: [a]\n');
  return dir;
}

async function seed(url: string): Promise<void> {
  const ds = createDataSource(url, { poolSize: 1 });
  await ds.initialize();
  try {
    const tables = new DatasetTables(ds, 'datasets');
    for (const name of ['weather', 'orders']) {
      const made = await tables.prepare(version(name));
      if (!('created' in made)) throw new Error(`${name}: ${JSON.stringify(made)}`);
    }
  } finally {
    await ds.destroy();
  }
  const weather = version('weather');
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded, contract_name, contract_hash, finished_at)
       VALUES ($1, 'dropzone', 'weather_1.csv', 'processed/weather_1.csv', repeat('a', 64), 10, 'contract', 'processed', 12, 12, 'weather', $5, '2026-01-05T10:00:00Z'),
              ($2, 'dropzone', 'weather_2.csv', 'processed/weather_2.csv', repeat('b', 64), 10, 'contract', 'processed', 12, 12, 'weather', $5, '2026-01-05T11:00:00.5Z'),
              ($3, 'dropzone', 'weather_3.csv', 'quarantine/weather_3.csv', repeat('c', 64), 10, 'contract', 'quarantined', 0, 0, 'weather', $5, '2026-01-05T10:30:00Z'),
              ($4, 'dropzone', 'orders-1.ndjson', 'processed/orders-1.ndjson', repeat('d', 64), 10, 'contract', 'processed', 2, 2, 'orders', $6, '2026-01-04T00:00:00Z')`,
      [...FILES, weather.hash, version('orders').hash],
    );
    for (let s = 0; s < STATIONS.length; s++) {
      for (let h = 0; h < HALF_HOURS; h++) {
        await c.query(
          `INSERT INTO datasets.weather (station, observed_at, temperature_c, humidity_pct, conditions, file_id, line) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [STATIONS[s], new Date(START + h * 1_800_000).toISOString(), 10.5 - h / 4, 60 + h, h % 2 ? 'clear' : 'cloudy', FILES[s], h + 2],
        );
      }
    }
    await c.query(
      `INSERT INTO datasets.orders (order_id, status, amount, currency, updated_at, customer_id, customer_country, file_id, line)
       VALUES ('o-1', 'paid', 12345678901234567890.25, 'EUR', '2024-01-01T00:00:00.000001Z', '=cmd|x', 'DE', $1, 1),
              ('o-2', 'created', 0.5, 'USD', '2024-01-02T00:00:00Z', 'c, "2"', NULL, $1, 2)`,
      [FILES[3]],
    );
  } finally {
    await c.end();
  }
}

describe('query-api GET /datasets (real PostgreSQL and NATS)', () => {
  let api: QueryApiHarness;
  let folder: string;
  const call = (path: string, key?: string | null) => api.call(path, key);
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api.base}${path}`, { headers: { 'x-api-key': KEY, ...headers } });
  /** Every weather row as PostgreSQL orders it by the key. */
  const expected = async (where = '') => {
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT station, to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS observed_at, temperature_c, humidity_pct, conditions, file_id::text AS file_id, line
           FROM datasets.weather ${where} ORDER BY station, observed_at`,
      );
      return rows as Json[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    folder = contractsFolder();
    api = await startQueryApi('query_datasets', KEY, seed, { CONTRACTS_DIR: folder });
  });

  afterAll(async () => {
    await api?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('needs a key and is documented in OpenAPI', async () => {
    expect((await call('/datasets', null)).status).toBe(401);
    expect((await call('/datasets/weather/rows', null)).status).toBe(401);
    const doc = (await call('/docs-json', null)).body;
    for (const p of ['/datasets', '/datasets/{name}/rows']) expect(doc['paths'][p]?.['get']?.['security']).toEqual([{ 'api-key': [] }]);
    const params = (doc['paths']['/datasets/{name}/rows']['get']['parameters'] as Json[]).map((p) => p['name']);
    expect(params).toEqual(expect.arrayContaining(['name', 'from', 'to', 'limit', 'cursor']));
    expect(Object.keys(doc['paths']['/datasets/{name}/rows']['get']['responses']['200']['content'])).toEqual(['application/json', 'text/csv', 'application/x-ndjson']);
  });

  it('lists each contract in force with its table, version, rows and files, and the refused files with their problems', async () => {
    const { status, body } = await call('/datasets');
    expect(status).toBe(200);
    const byName = Object.fromEntries((body['datasets'] as Json[]).map((d) => [d['name'], d]));
    expect(Object.keys(byName)).toEqual(['meters', 'orders', 'stations', 'weather']);
    expect(byName['weather']).toEqual({
      name: 'weather',
      table: 'datasets.weather',
      version: version('weather').hash,
      first_used_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
      table_exists: true,
      rows: STATIONS.length * HALF_HOURS,
      rows_exact: true,
      files: { processed: 2, quarantined: 1 },
      last_load_at: '2026-01-05T11:00:00.500000Z',
      key: ['station', 'observed_at'],
      time_column: 'observed_at',
      columns: [
        { name: 'station', type: 'text' },
        { name: 'observed_at', type: 'timestamptz' },
        { name: 'temperature_c', type: 'float' },
        { name: 'humidity_pct', type: 'int' },
        { name: 'conditions', type: 'text' },
        { name: 'file_id', type: 'uuid' },
        { name: 'line', type: 'int' },
      ],
    });
    expect(byName['orders']).toMatchObject({ table: 'datasets.orders', rows: 2, files: { processed: 1 }, key: ['order_id'] });
    expect(byName['stations']).toMatchObject({ table: 'datasets.stations', time_column: null, rows: 0 });
    // No file loaded through it yet: no table, no version recorded.
    expect(byName['meters']).toMatchObject({ table: 'datasets.meter_readings', table_exists: false, rows: 0, files: {}, last_load_at: null, first_used_at: null });
    for (const p of body['problems'] as Json[]) expect(p).toMatchObject({ file: 'broken.yaml', message: expect.any(String) });
    expect(body['problems']).toContainEqual(expect.objectContaining({ field: 'columns[0].type', line: 6 }));
    expect(JSON.stringify(body['problems'])).not.toContain(folder);
  });

  it('walks keyset pages through every row exactly once, in key order', async () => {
    const all = await expected();
    const { rows, pages } = await api.walk('/datasets/weather/rows?limit=7', 'rows');
    expect(pages).toBe(4);
    expect(rows).toEqual(all);
    const first = await call('/datasets/weather/rows?limit=2');
    expect(first.body).toMatchObject({ dataset: 'weather', rows: all.slice(0, 2), next_cursor: expect.any(String) });
    // A table not made yet: an empty page.
    expect((await call('/datasets/meters/rows')).body).toMatchObject({ dataset: 'meters', rows: [], next_cursor: null });
  });

  it('filters on the time column, [from, to); 400 for a contract without one', async () => {
    const from = new Date(START + 3 * 1_800_000).toISOString();
    const to = new Date(START + 7 * 1_800_000).toISOString();
    const { rows } = await api.walk(`/datasets/weather/rows?from=${from}&to=${to}&limit=3`, 'rows');
    expect(rows).toEqual(await expected(`WHERE observed_at >= '${from}' AND observed_at < '${to}'`));
    expect(rows).toHaveLength(STATIONS.length * 4);
    await api.expectBadParameter('/datasets/stations/rows?from=2024-01-01', 'from');
    expect((await call('/datasets/stations/rows?to=2024-01-01')).body['error'].message).toContain('no time_column');
    await api.expectBadParameter(`/datasets/weather/rows?from=${to}&to=${from}`, 'to');
    await api.expectBadParameter('/datasets/weather/rows?limit=1001', 'limit');
  });

  it('exports every matching row as CSV (equal to the pages) and NDJSON, exact numerics and formulas neutralised', async () => {
    const res = await get('/datasets/weather/rows', { accept: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const csv = parse(await res.text(), { columns: true }) as Json[];
    const all = await expected();
    expect(csv).toEqual(all.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]))));
    const orders = await get('/datasets/orders/rows', { accept: 'text/csv' });
    expect(await orders.text()).toBe(
      'order_id,status,amount,currency,updated_at,customer_id,customer_country,file_id,line\n' +
        `o-1,paid,12345678901234567890.25,EUR,2024-01-01T00:00:00.000001Z,"'=cmd|x",DE,${FILES[3]},1\n` +
        `o-2,created,0.5,USD,2024-01-02T00:00:00.000000Z,"c, ""2""",,${FILES[3]},2\n`,
    );
    const nd = await get('/datasets/weather/rows?from=2024-03-30T19:00:00Z&to=2024-03-30T19:30:00Z', { accept: 'application/x-ndjson' });
    expect((await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as Json)).toEqual(all.filter((r) => r['observed_at'] === '2024-03-30T19:00:00.000000Z'));
    // A table not made yet: the header alone.
    const empty = await get('/datasets/meters/rows', { accept: 'text/csv' });
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('meter,read_at,kwh,quality,file_id,line\n');
    const refused = await get('/datasets/weather/rows?limit=5', { accept: 'text/csv' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as Json)['error'].details).toEqual([{ parameter: 'limit', message: expect.any(String) }]);
  });

  it('404 for a name no contract in force has; a name never reaches SQL', async () => {
    for (const name of ['nope', 'broken', 'weather"; DROP TABLE datasets.weather; --', "weather' OR 1=1 --", '..%2F..%2Fetc%2Fpasswd']) {
      const { status, body } = await call(`/datasets/${encodeURIComponent(name)}/rows`);
      expect(status).toBe(404);
      expect(body['error'].message).toContain('unknown dataset');
    }
    expect((await call('/datasets')).body['datasets'].find((d: Json) => d['name'] === 'weather')['rows']).toBe(STATIONS.length * HALF_HOURS);
  });

  it('400 for a cursor not issued by this API, typed per key column, never a 500', async () => {
    const bad = [
      'nope!',
      Buffer.from('not json').toString('base64url'),
      encodeDatasetCursor(['DWD-10385']),
      encodeDatasetCursor(['DWD-10385', 'yesterday']),
      encodeDatasetCursor(['DWD-10385', '2024-02-30T00:00:00.000000Z']),
      encodeDatasetCursor(['DWD\u0000', '2024-03-30T19:00:00.000000Z']),
      encodeDatasetCursor(['DWD-10385', '2024-03-30T19:00:00.000000Z', 'x']),
      Buffer.from(JSON.stringify(['DWD-10385', 5])).toString('base64url'),
    ];
    for (const cursor of bad) await api.expectBadParameter(`/datasets/weather/rows?cursor=${cursor}`, 'cursor');
    // A hand-made cursor of the right shape is just a position.
    const { body } = await call(`/datasets/weather/rows?limit=100&cursor=${encodeDatasetCursor(['DWD-A2', '2024-03-31T00:00:00.000000Z'])}`);
    expect(body['rows']).toEqual((await expected(`WHERE (station, observed_at) > ('DWD-A2', '2024-03-31T00:00:00Z')`)));
  });

  // Last: it changes the orders table.
  it('409 naming the columns when the table lacks some of the contract in force (edited after the table was made)', async () => {
    const c = new Client({ connectionString: api.db.url });
    await c.connect();
    try {
      await c.query(`ALTER TABLE datasets.orders DROP COLUMN customer_country`);
    } finally {
      await c.end();
    }
    const { status, body } = await call('/datasets/orders/rows');
    expect(status).toBe(409);
    expect(body['error']).toMatchObject({ code: 'conflict', details: { dataset: 'orders', missing_columns: ['customer_country'] } });
    expect((await get('/datasets/orders/rows', { accept: 'text/csv' })).status).toBe(409);
    expect((await call('/datasets')).body['datasets'].find((d: Json) => d['name'] === 'orders')['rows']).toBe(2);
  });
});
