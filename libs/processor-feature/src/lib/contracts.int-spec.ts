import 'reflect-metadata';
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchSubjects } from '@sluice/contracts';
import { Contracts, databaseStoredPath, LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { ReplayService } from '@sluice/replay';
import { OutcomeFiling } from '@sluice/storage';
import { ReadinessRegistry } from '@sluice/observability';
import { waitFor, wideCsv, zipOf } from '@sluice/testing';
import { DataSource } from 'typeorm';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';

const EXAMPLES = join(__dirname, '../../../../examples/contracts');
const WEATHER_CSV = readFileSync(join(EXAMPLES, 'weather_2024-03-31.csv'), 'utf8');

interface LedgerRow {
  status: string;
  kind: string | null;
  contract_name: string | null;
  contract_hash: string | null;
  rows_total: string;
  rows_loaded: string;
  rows_rejected: string;
  rows_written: string;
  error: { rule: string; message: string } | null;
}

/**
 * Files no built-in kind takes go through the data contract in force that takes them (CONTRACTS_DIR, read again
 * for every such file): rows into the contract's table in CONTRACTS_SCHEMA, row errors and the ledger as for any
 * file, the ledger row naming the contract and the version it was loaded with.
 */
describe('processor: files through data contracts', () => {
  let t: ProcessorTestApp;
  let contractsDir: string;
  const query = <T>(sql: string, params: unknown[] = []) => t.query<T>(sql, params);
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const weatherYaml = () => readFileSync(join(contractsDir, 'weather.yaml'), 'utf8');

  beforeAll(async () => {
    contractsDir = mkdtempSync(join(tmpdir(), 'sluice-contracts-'));
    for (const f of readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))) copyFileSync(join(EXAMPLES, f), join(contractsDir, f));
    t = await startProcessorApp('contracts', { CONTRACTS_DIR: contractsDir });
  });

  afterAll(async () => {
    await t?.close();
    rmSync(contractsDir, { recursive: true, force: true });
  });

  const terminal = async (id: string): Promise<LedgerRow> => {
    await waitFor(`file ${id} terminal`, async () => ['processed', 'quarantined', 'failed'].includes((await t.statusOf(id)) ?? ''));
    return (await query<LedgerRow>(
      'SELECT status, kind, contract_name, contract_hash, rows_total, rows_loaded, rows_rejected, rows_written, error FROM ingest_files WHERE id = $1',
      [id],
    ))[0];
  };
  const rowErrors = (id: string) => query<{ line: number; column: string | null; rule: string }>('SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1 ORDER BY line', [id]);
  const weatherRows = async (station: string) => (await query<{ n: number }>(`SELECT count(*)::int AS n FROM datasets.weather WHERE station = $1`, [station]))[0].n;
  /** The sample with another station (other keys, other content). */
  const weatherOf = (station: string, edit: (csv: string) => string = (c) => c) => Buffer.from(edit(WEATHER_CSV.replaceAll('DWD-10385', station)));

  let sampleId: string;

  it('loads the weather sample into datasets.weather; the 104 % reading is a row error; the ledger names contract and version', async () => {
    sampleId = await t.enqueue('weather_2024-03-31.csv', Buffer.from(WEATHER_CSV));
    expect(await terminal(sampleId)).toEqual({
      status: 'processed',
      kind: 'contract',
      contract_name: 'weather',
      contract_hash: sha256(weatherYaml()),
      rows_total: '30',
      rows_loaded: '29',
      rows_rejected: '1',
      rows_written: '29',
      error: null,
    });
    expect(await rowErrors(sampleId)).toEqual([{ line: 23, column: expect.any(String), rule: expect.any(String) }]);
    expect(await weatherRows('DWD-10385')).toBe(29);
    expect(await query(`SELECT hash FROM contract_versions WHERE name = 'weather'`)).toEqual([{ hash: sha256(weatherYaml()) }]);
  });

  it('a local time the clock change skipped is a tz_gap row error; the other rows load', async () => {
    const id = await t.enqueue('weather_2024-03-31-gap.csv', weatherOf('GAP-1', (c) => c.replace('31.03.2024 03:00;', '31.03.2024 02:30;')));
    expect(await terminal(id)).toMatchObject({ status: 'processed', kind: 'contract', rows_loaded: '28', rows_rejected: '2' });
    expect((await rowErrors(id)).map((e) => [e.line, e.rule])).toEqual([
      [14, 'tz_gap'],
      [23, expect.any(String)],
    ]);
    expect(await weatherRows('GAP-1')).toBe(28);
  });

  it('a file no contract takes is still unrecognized_format; a built-in sensor CSV loads as before', async () => {
    const other = await t.enqueue('other_2024.csv', Buffer.from('a;b;c\n1;2;3\n'));
    expect(await terminal(other)).toMatchObject({ status: 'quarantined', kind: null, contract_name: null, error: { rule: 'unrecognized_format' } });

    const sensors = await t.enqueue('weather_sensors.csv', Buffer.from(wideCsv({ lines: 10, devices: ['contract-neighbour'], startEpoch: 1.82e9 })));
    expect(await terminal(sensors)).toMatchObject({ status: 'processed', kind: 'sensor_wide_csv', contract_name: null, contract_hash: null, rows_loaded: '10', rows_rejected: '0' });
  });

  it('drift under quarantine: a file with a column the contract lacks is quarantined with the difference in its error', async () => {
    const id = await t.enqueue('weather_2024-04-01.csv', weatherOf('DRIFT-1', (c) => c.replace(/\n/g, ';x\n').replace('Wetter;x', 'Wetter;Wind')));
    const row = await terminal(id);
    expect(row).toMatchObject({ status: 'quarantined', kind: 'contract', contract_name: 'weather', rows_loaded: '0', error: { rule: 'schema_drift' } });
    expect(row.error?.message).toContain('Wind');
    expect(await weatherRows('DRIFT-1')).toBe(0);
  });

  it('a table that differs from its contract quarantines the file with the differences, column by column, and is left as it is', async () => {
    writeFileSync(
      join(contractsDir, 'gauges.yaml'),
      [
        'inputs:',
        '  glob: "gauge_*.csv"',
        'format:',
        '  type: csv',
        '  delimiter: ";"',
        'columns:',
        '  - { source: id, name: gauge, type: text, required: true }',
        '  - { source: level, name: level, type: float }',
        'table:',
        '  key: [gauge]',
        '',
      ].join('\n'),
    );
    await query(`CREATE SCHEMA IF NOT EXISTS datasets`);
    await query(`CREATE TABLE datasets.gauges (gauge text PRIMARY KEY, level text, file_id uuid NOT NULL, line integer NOT NULL)`);
    const id = await t.enqueue('gauge_1.csv', Buffer.from('id;level\ng-1;1.5\n'));
    const row = await terminal(id);
    expect(row).toMatchObject({ status: 'quarantined', kind: 'contract', contract_name: 'gauges', rows_loaded: '0', error: { rule: 'table_mismatch' } });
    expect(row.error?.message).toContain('column level is double precision in the contract but text in the table');
    expect(await query(`SELECT count(*)::int AS n FROM datasets.gauges`)).toEqual([{ n: 0 }]);
    expect(await query(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'datasets.gauges'::regclass AND attname = 'level'`)).toEqual([{ type: 'text' }]);
  });

  it('an edited contract is in force for the next file (a new contract_hash); a broken edit keeps the version before it', async () => {
    const before = sha256(weatherYaml());
    writeFileSync(join(contractsDir, 'weather.yaml'), weatherYaml().replace('min: 0, max: 100', 'min: 0, max: 110'));
    const edited = sha256(weatherYaml());
    expect(edited).not.toBe(before);
    const id = await t.enqueue('weather_2024-04-02.csv', weatherOf('EDIT-1'));
    expect(await terminal(id)).toMatchObject({ status: 'processed', contract_name: 'weather', contract_hash: edited, rows_loaded: '30', rows_rejected: '0' });

    writeFileSync(join(contractsDir, 'weather.yaml'), `${weatherYaml()}\ncolumns: [oops\n`);
    const next = await t.enqueue('weather_2024-04-03.csv', weatherOf('EDIT-2'));
    expect(await terminal(next)).toMatchObject({ status: 'processed', contract_name: 'weather', contract_hash: edited, rows_loaded: '30' });
    expect([...new Set(t.app.get(Contracts).problems().map((p) => p.file))]).toEqual([join(contractsDir, 'weather.yaml')]);
    // Reported, not fatal: the contracts check is not required, so the processor stays ready (degraded).
    const [, check] = t.app.get(ReadinessRegistry).entries().find(([name]) => name === 'contracts') ?? [];
    expect(check?.required).toBe(false);
    await expect(check?.check()).rejects.toThrow(/weather\.yaml/);
  });

  it('a replay goes through the version in force now, and the file’s own earlier rows are no duplicates', async () => {
    const now = sha256(readFileSync(join(contractsDir, 'weather.yaml'), 'utf8').split('\ncolumns: [oops')[0]);
    // Where the watcher would have moved it.
    const ds = t.app.get(DataSource);
    await ds.query(`UPDATE ingest_files SET stored_path = 'processed/weather_2024-03-31.csv' WHERE id = $1`, [sampleId]);
    mkdirSync(join(t.dropzone, 'processed'), { recursive: true });
    renameSync(join(t.dropzone, `processing/${sampleId}__weather_2024-03-31.csv`), join(t.dropzone, 'processed/weather_2024-03-31.csv'));
    const ledger = t.app.get(LedgerRepository);
    await new ReplayService(ds, ledger, new OutcomeFiling(t.dropzone), new LedgerAnnouncer(ledger, t.js), new StoredPayloads(ds)).replay(sampleId);
    await waitFor('replayed', async () => (await query<{ replays: number; status: string }>('SELECT replays, status FROM ingest_files WHERE id = $1', [sampleId]))[0].status === 'processed');

    // The 104 % reading the first version refused loads under the version in force (max 110).
    expect(await terminal(sampleId)).toMatchObject({ status: 'processed', contract_hash: now, rows_total: '30', rows_loaded: '30', rows_rejected: '0', rows_written: '30' });
    expect(await rowErrors(sampleId)).toEqual([]);
    expect(await weatherRows('DWD-10385')).toBe(30);
    expect(await query(`SELECT count(*)::int AS n FROM contract_versions WHERE name = 'weather'`)).toEqual([{ n: 2 }]);
  });

  it('an API body kept in the database goes through its contract too, in a batch beside a built-in kind', async () => {
    const bodies = [
      { name: 'weather_api.csv', body: weatherOf('API-1') },
      { name: 'readings.csv', body: Buffer.from(wideCsv({ lines: 5, devices: ['contract-api'], startEpoch: 1.83e9 })) },
    ];
    const entries = bodies.map((b) => ({ id: randomUUID(), source: 'api' as const, originalName: b.name, sha256: sha256(b.body.toString()), sizeBytes: b.body.length }));
    const client = await t.pool.connect();
    try {
      await t.app.get(LedgerRepository).registerMany(client, entries.map((e) => ({ ...e, storedPath: databaseStoredPath(e.id) })), new Map(entries.map((e, i) => [e.id, bodies[i].body])));
    } finally {
      client.release();
    }
    const ids = entries.map((e) => e.id);
    await t.js.publish(BatchSubjects.queued, { fileIds: ids }, `batch.${ids[0]}`);
    expect(await terminal(ids[0])).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'weather', rows_loaded: '30', rows_written: '30' });
    expect(await terminal(ids[1])).toMatchObject({ status: 'processed', kind: 'sensor_wide_csv', contract_name: null, rows_loaded: '5' });
    expect(await weatherRows('API-1')).toBe(30);
  });

  it('an NDJSON API body whose lines name a contract kind loads through that contract; a body mixing kinds is mixed_kinds', async () => {
    const order = (id: string, kind = 'orders') =>
      JSON.stringify({ kind, order_id: id, status: 'paid', amount: 10, currency: 'EUR', updated_at: '2024-06-01T10:00:00Z', customer: { id: 'c-9', country: 'DE' } });
    const bodies = [
      { name: 'kind-a.ndjson', body: Buffer.from(`${order('o-7001')}\n${order('o-7002')}\n\n${order('o-7003')}\n`) },
      { name: 'kind-b.ndjson', body: Buffer.from(`${order('o-7101')}\n{"kind":"measurement","time_stamp":"2024-06-01T10:00:00Z","data":{"s":1}}\n`) },
      { name: 'kind-c.ndjson', body: Buffer.from(`${order('o-7201')}\n${order('o-7202', 'weather')}\n`) },
    ];
    const entries = bodies.map((b) => ({ id: randomUUID(), source: 'api' as const, originalName: b.name, sha256: sha256(b.body.toString()), sizeBytes: b.body.length }));
    const client = await t.pool.connect();
    try {
      await t.app.get(LedgerRepository).registerMany(client, entries.map((e) => ({ ...e, storedPath: databaseStoredPath(e.id) })), new Map(entries.map((e, i) => [e.id, bodies[i].body])));
    } finally {
      client.release();
    }
    const ids = entries.map((e) => e.id);
    await t.js.publish(BatchSubjects.queued, { fileIds: ids }, `batch.${ids[0]}`);
    expect(await terminal(ids[0])).toMatchObject({
      status: 'processed',
      kind: 'contract',
      contract_name: 'orders',
      contract_hash: sha256(readFileSync(join(contractsDir, 'orders.yaml'), 'utf8')),
      rows_total: '3',
      rows_loaded: '3',
      rows_rejected: '0',
      rows_written: '3',
    });
    const loaded = await query<{ order_id: string; line: number }>(`SELECT order_id, line FROM datasets.orders WHERE file_id = $1 ORDER BY line`, [ids[0]]);
    expect(loaded).toEqual([
      { order_id: 'o-7001', line: 1 },
      { order_id: 'o-7002', line: 2 },
      { order_id: 'o-7003', line: 4 },
    ]);
    for (const id of ids.slice(1)) {
      const row = await terminal(id);
      expect(row).toMatchObject({ status: 'quarantined', kind: 'contract', contract_name: 'orders', rows_loaded: '0', error: { rule: 'mixed_kinds' } });
      expect(row.error?.message).toContain('line 2');
      expect(await query(`SELECT count(*)::int AS n FROM datasets.orders WHERE file_id = $1`, [id])).toEqual([{ n: 0 }]);
    }
  });

  it('a large NDJSON API body (a file in processing/) of a contract kind takes the single-file path to the same contract', async () => {
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ kind: 'orders', order_id: `o-8${String(i).padStart(3, '0')}`, status: 'created', amount: i, currency: 'EUR', updated_at: '2024-06-02T10:00:00Z', customer: { id: `c-${i}`, country: 'FR' } }),
    );
    const body = Buffer.from(`${lines.join('\n')}\n`);
    const id = randomUUID();
    const storedPath = `processing/${id}__${id}.ndjson`;
    mkdirSync(join(t.dropzone, 'processing'), { recursive: true });
    writeFileSync(join(t.dropzone, storedPath), body);
    await new LedgerAnnouncer(t.app.get(LedgerRepository), t.js).register({ id, source: 'api', originalName: `${id}.ndjson`, storedPath, sha256: sha256(body.toString()), sizeBytes: body.length });
    expect(await terminal(id)).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'orders', rows_total: '50', rows_loaded: '50', rows_written: '50' });
  });

  it('a zip member goes to the contract that takes its name inside the archive', async () => {
    const id = await t.enqueue('stations.zip', await zipOf([{ name: 'site-b/weather_2024-04-05.csv', content: weatherOf('ZIP-1') }]));
    expect(await terminal(id)).toMatchObject({ status: 'processed', kind: 'zip_archive' });
    const [member] = await query<{ id: string }>('SELECT id FROM ingest_files WHERE archive_id = $1', [id]);
    expect(await terminal(member.id)).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'weather', rows_loaded: '30', rows_written: '30' });
    expect(await weatherRows('ZIP-1')).toBe(30);
  });

  it('the NDJSON and JSON examples load through their contracts (orders newest_wins, meters from data.readings)', async () => {
    const example = (name: string) => readFileSync(join(EXAMPLES, name));
    const first = await t.enqueue('orders-000123.ndjson', example('orders-000123.ndjson'));
    expect(await terminal(first)).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'orders', rows_rejected: '0' });
    const second = await t.enqueue('orders-000124.ndjson', example('orders-000124.ndjson'));
    expect(await terminal(second)).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'orders', rows_rejected: '0' });
    // o-1004's update in the second file is older than the one loaded: the first file's row stays.
    const orders = await query<{ order_id: string; file_id: string }>(`SELECT order_id, file_id::text FROM datasets.orders ORDER BY order_id`);
    expect(orders.find((o) => o.order_id === 'o-1004')?.file_id).toBe(first);
    expect(orders.filter((o) => o.file_id === second).map((o) => o.order_id)).toEqual(expect.arrayContaining(['o-1001', 'o-1002', 'o-1005']));
    expect((await terminal(second)).rows_written).toBe(String(orders.filter((o) => o.file_id === second).length));

    const meters = await t.enqueue('meter-export.json', example('meter-export.json'));
    const row = await terminal(meters);
    expect(row).toMatchObject({ status: 'processed', kind: 'contract', contract_name: 'meters' });
    expect(await query(`SELECT count(*)::int AS n FROM datasets.meter_readings WHERE file_id = $1`, [meters])).toEqual([{ n: Number(row.rows_loaded) }]);
  });
});
