import { copyFileSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateMismatches, expectedWide, FIXTURES, generateLongFormat, Stack, waitFor } from '@sluice/testing';

const SEEDS = ['split_15.csv', 'split_3.csv', 'split_30.csv'].map((f) => join(FIXTURES, 'sensors', f));

/** Copies files next to the drop folder, then renames them in, as a well-behaved writer does. */
function drop(stack: Stack, files: string[], subdir = ''): void {
  const staging = mkdtempSync(join(stack.dropzone, '..', 'staging-'));
  for (const f of files) {
    const name = f.split('/').pop()!;
    copyFileSync(f, join(staging, name));
    renameSync(join(staging, name), join(stack.dropzone, 'incoming', subdir, name));
  }
  rmSync(staging, { recursive: true, force: true });
}

describe('sensor CSV through the drop folder', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'pipeline' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('loads wide CSV files: readings, sensors, rejected lines and a ledger whose counts add up', async () => {
    drop(stack, SEEDS);
    const statuses = await stack.waitForTerminal(SEEDS.length);
    expect(statuses).toEqual({ processed: SEEDS.length });

    const expected = SEEDS.map(expectedWide);
    const readings = expected.reduce((n, e) => n + e.readings, 0);
    expect(await stack.count('raw_sensor_data')).toBe(readings);

    const devices = new Set(expected.flatMap((e) => [...e.devices]));
    const sensors = await stack.query<{ name: string }>('SELECT name FROM sensors ORDER BY name');
    expect(sensors.map((s) => s.name)).toEqual([...devices].flatMap((d) => expected[0].metrics.map((m) => `${d}/${m}`)).sort());

    const files = await stack.query<{ original_name: string; rows_total: string; rows_loaded: string; rows_rejected: string; rows_written: string; rows_written_by_table: Record<string, number> }>(
      'SELECT original_name, rows_total, rows_loaded, rows_rejected, rows_written, rows_written_by_table FROM ingest_files ORDER BY original_name',
    );
    for (const f of files) {
      const e = expectedWide(SEEDS.find((s) => s.endsWith(f.original_name))!);
      expect(Number(f.rows_total)).toBe(e.lines);
      expect(Number(f.rows_loaded) + Number(f.rows_rejected)).toBe(Number(f.rows_total));
      expect(Number(f.rows_rejected)).toBe(e.badLines.length);
      expect(Number(f.rows_written)).toBe(e.readings);
      expect(f.rows_written_by_table).toEqual({ raw_sensor_data: e.readings });
    }

    const errors = await stack.query<{ original_name: string; line: number; rule: string; message: string }>(
      `SELECT f.original_name, e.line, e.rule, e.message FROM ingest_errors e JOIN ingest_files f ON f.id = e.file_id ORDER BY 1, 2`,
    );
    const expectedErrors = SEEDS.flatMap((s) => expectedWide(s).badLines.map((line) => ({ file: s.split('/').pop()!, line })));
    expect(errors.map((e) => ({ file: e.original_name, line: e.line }))).toEqual(expectedErrors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line));
    for (const e of errors) expect(e.message.length).toBeGreaterThan(10);

    expect(readdirSync(join(stack.dropzone, 'processed')).sort()).toEqual(SEEDS.map((s) => s.split('/').pop()!).sort());
    expect(readdirSync(join(stack.dropzone, 'processing'))).toEqual([]);
  });

  it('keeps aggregated_metrics equal to a recomputation from raw_sensor_data', async () => {
    expect(await stack.count('aggregated_metrics')).toBeGreaterThan(0);
    expect(await aggregateMismatches(stack)).toEqual([]);
  });

  it('records the same files dropped again as duplicates and adds no row', async () => {
    const before = await stack.count('raw_sensor_data');
    const renamed = SEEDS.map((s, i) => {
      const copy = join(tmpdir(), `again-${i}-${s.split('/').pop()}`);
      copyFileSync(s, copy);
      return copy;
    });
    drop(stack, renamed);
    const statuses = await stack.waitForTerminal(SEEDS.length * 2);
    expect(statuses).toEqual({ processed: SEEDS.length, duplicate: SEEDS.length });
    expect(await stack.count('raw_sensor_data')).toBe(before);
    const dups = await stack.query<{ duplicate_of: string | null }>(`SELECT duplicate_of FROM ingest_files WHERE status = 'duplicate'`);
    expect(dups.every((d) => d.duplicate_of !== null)).toBe(true);
    await waitFor('duplicates moved to processed/', async () => readdirSync(join(stack.dropzone, 'processed')).length === SEEDS.length * 2);
    for (const f of renamed) rmSync(f, { force: true });
  });

  it('serves the loaded data through the query API', async () => {
    const headers = { 'x-api-key': stack.queryKey };
    const sensors = (await (await fetch(`${stack.url('query-api')}/sensors`, { headers })).json()) as unknown[];
    expect(sensors.length).toBe(await stack.count('sensors'));
    const files = await fetch(`${stack.url('query-api')}/files`, { headers });
    expect(files.status).toBe(200);
  });

  it('counts readings as the rows of raw_sensor_data and the rows of other tables under their own names', async () => {
    // A log file (4 log lines) and an NDJSON file of one reading, one measurement, one vehicle status and one detection.
    drop(stack, [join(FIXTURES, 'logs', 'input.log'), join(FIXTURES, 'json', 'lines.ndjson')]);
    expect(await stack.waitForTerminal(SEEDS.length * 2 + 2)).toEqual({ processed: SEEDS.length + 2, duplicate: SEEDS.length });
    const headers = { 'x-api-key': stack.queryKey };
    const get = async (path: string) => (await (await fetch(`${stack.url('query-api')}${path}`, { headers })).json()) as Record<string, unknown>;

    // Each table's rows as the table holds them.
    const tables = ['raw_sensor_data', 'log_lines', 'measurements', 'vehicles_status', 'detection_events'];
    const held: Record<string, number> = {};
    for (const t of tables) held[t] = await stack.count(t);
    expect(held).toEqual({ raw_sensor_data: SEEDS.map(expectedWide).reduce((n, e) => n + e.readings, 0) + 1, log_lines: 4, measurements: 1, vehicles_status: 1, detection_events: 1 });

    // /stats: readings are the rows of raw_sensor_data, nothing else; every other table under its own name.
    const stats = await get('/stats');
    expect(stats['readings_loaded']).toBe(held['raw_sensor_data']);
    expect(stats['rows_written_by_table']).toEqual(held);
    expect(stats['rows_written']).toBe(Object.values(held).reduce((a, b) => a + b, 0));

    // The ledger: the rows each file wrote, per table, are the rows of that table that carry its id.
    const ledger = await stack.query<{ id: string; original_name: string; status: string; rows_written: string; rows_written_by_table: Record<string, number> }>(
      `SELECT id::text AS id, original_name, status, rows_written, rows_written_by_table FROM ingest_files`,
    );
    for (const f of ledger) {
      const own: Record<string, number> = {};
      for (const t of tables) {
        const [{ n }] = await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE file_id = $1`, [f.id]);
        if (n) own[t] = n;
      }
      expect({ name: f.original_name, status: f.status, written: f.rows_written_by_table }).toEqual({ name: f.original_name, status: f.status, written: own });
      expect(Number(f.rows_written)).toBe(Object.values(own).reduce((a, b) => a + b, 0));
    }

    // GET /files/{id} says the same of one file: a log file writes log lines, not readings.
    const log = ledger.find((f) => f.original_name === 'input.log')!;
    expect(await get(`/files/${log.id}`)).toEqual(expect.objectContaining({ readings_loaded: 0, rows_written: 4, rows_written_by_table: { log_lines: 4 } }));
    const ndjson = ledger.find((f) => f.original_name === 'lines.ndjson')!;
    expect(await get(`/files/${ndjson.id}`)).toEqual(
      expect.objectContaining({ readings_loaded: 1, rows_written: 4, rows_written_by_table: { raw_sensor_data: 1, measurements: 1, vehicles_status: 1, detection_events: 1 } }),
    );
  });
});

describe('long-format sensor CSV with the mapping arriving last', () => {
  let stack: Stack;
  let dataDir: string;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'longfmt' });
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-long-'));
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads every good reading and names the sensors when the mapping comes', async () => {
    const generated = generateLongFormat(dataDir, { sensors: 50, rows: 200000, files: 20, bad: 10 });
    expect(generated.badRows).toBe(10);
    const parts = readdirSync(join(dataDir, 'timeseries')).map((f) => join(dataDir, 'timeseries', f));
    drop(stack, parts);
    await stack.waitForTerminal(parts.length, 180000);
    expect(await stack.count('raw_sensor_data')).toBe(199990);

    drop(stack, [join(dataDir, 'mapping', 'mapping.csv')]);
    const statuses = await stack.waitForTerminal(parts.length + 1);
    expect(statuses).toEqual({ processed: parts.length + 1 });
    const named = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM sensors WHERE name LIKE 'sensor\\_%'`);
    expect(Number(named[0].n)).toBe(50);
    expect(await stack.count('sensors')).toBe(50);
    expect(await stack.count('ingest_errors')).toBe(10);
    expect(await aggregateMismatches(stack)).toEqual([]);
  });
});
