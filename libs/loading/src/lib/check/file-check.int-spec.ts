import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, parseMetricRanges } from '@sluice/config';
import { ContractCatalog, contractsTaking, type ContractVersion } from '@sluice/datasets';
import { createDataSource, DatasetTables, withTransaction } from '@sluice/db';
import { createTestDatabase, seedLikeCsv, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { ContractLoader, FileCheck, SensorCsvLoader, type CheckReport, type ContractLoadOptions } from '../../index';

const SCHEMA = 'datasets';
const EXAMPLES = join(__dirname, '../../../../../examples/contracts');
const opts: ContractLoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.05, minInvalidRows: 10, ranges: parseMetricRanges(DEFAULT_METRIC_RANGES), naiveTimeZone: 'UTC', schema: SCHEMA };

describe(FileCheck.name, () => {
  let db: TestDatabase;
  let ds: DataSource;
  let check: FileCheck;
  const catalog = new ContractCatalog(EXAMPLES);
  catalog.refresh();
  const contracts = {
    choose: (input: Parameters<typeof contractsTaking>[1]) => {
      const t = contractsTaking(catalog.all(), input);
      return t.length === 1 ? { version: t[0] } : t.length ? { ambiguous: t } : ({ none: true } as const);
    },
  };

  beforeAll(async () => {
    db = await createTestDatabase('file_check');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    check = new FileCheck({ db: ds, contracts, schema: SCHEMA, options: opts });
    const tables = new DatasetTables(ds, SCHEMA);
    for (const v of catalog.all()) await tables.prepare(v);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** What a check could change: every table's insert, update and delete counters, and the ledger. */
  async function snapshot(): Promise<unknown> {
    // A backend reports its counters once idle for a second or so: long enough for the check's own to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await ds.query('SELECT pg_stat_force_next_flush()');
    await ds.query('SELECT pg_stat_clear_snapshot()');
    const stats = await ds.query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relid`);
    return { stats, ledger: await ds.query(`SELECT * FROM ingest_files ORDER BY id`) };
  }

  const run = (name: string, text: string | Buffer): Promise<CheckReport> => check.check(name, () => Readable.from([Buffer.from(text)]), { input: { source: 'dropzone', path: name } });

  async function load(v: ContractVersion, text: string | Buffer, sha: string) {
    const fileId = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'f', 'f', $2, 0, 'processed')`, [fileId, sha]);
    return withTransaction(ds, (client) => new ContractLoader().load(client, fileId, v, () => Readable.from([Buffer.from(text)]), opts));
  }

  it.each([
    ['weather_2024-03-31.csv', 'weather'],
    ['orders-000123.ndjson', 'orders'],
  ])('%s: the check writes nothing, and its counts are the real load’s; checked again it is a duplicate', async (name, contract) => {
    const text = readFileSync(join(EXAMPLES, name));
    const before = await snapshot();
    const report = await run(name, text);
    // Twice: a check that wrote would show on the second snapshot at the latest.
    await run(name, text);
    expect(await snapshot()).toEqual(before);
    expect(report).toMatchObject({ kind: 'contract', contract, verdict: 'load' });

    const loaded = await load(catalog.get(contract) as ContractVersion, text, report.sha256 as string);
    const rejected = Object.values(report.rejected).reduce((a, b) => a + b, 0);
    expect({ total: report.rows_total, load: report.would_load, rejected, duplicates: report.duplicate_rows }).toEqual({
      total: loaded.rowsTotal,
      load: loaded.rowsLoaded,
      rejected: loaded.rowsRejected,
      duplicates: loaded.rowsDuplicate,
    });
    expect(await run(name, text)).toMatchObject({ verdict: 'duplicate', duplicate_rows: null });
  });

  it('counts rows whose key is loaded already as the key policy does, as the real load then does', async () => {
    const v = catalog.get('orders') as ContractVersion;
    const text = readFileSync(join(EXAMPLES, 'orders-000124.ndjson'));
    const report = await run('orders-000124.ndjson', text);
    const loaded = await load(v, text, report.sha256 as string);
    expect({ total: report.rows_total, load: report.would_load, duplicates: report.duplicate_rows, rejected: Object.values(report.rejected).reduce((a, b) => a + b, 0) }).toEqual({
      total: loaded.rowsTotal,
      load: loaded.rowsLoaded,
      duplicates: loaded.rowsDuplicate,
      rejected: loaded.rowsRejected,
    });
    // The same rows in a file of other bytes: every key is loaded now.
    const again = await run('orders-000125.ndjson', Buffer.concat([text, Buffer.from('\n')]));
    expect(again.verdict).not.toBe('duplicate');
    expect((again.duplicate_rows ?? 0) + (again.rejected['duplicate_key'] ?? 0)).toBeGreaterThan(0);
  });

  it('quarantines a drifted file with the difference', async () => {
    const text = readFileSync(join(EXAMPLES, 'weather_2024-03-31.csv'), 'latin1');
    const lines = text.split('\n');
    lines[0] = `${lines[0].replace(/\r$/, '')};Extra`;
    const report = await run('weather_2024-04-01.csv', lines.map((l, i) => (i > 0 && l.trim() ? `${l.replace(/\r$/, '')};x` : l)).join('\n'));
    expect(report.verdict).toBe('quarantine');
    expect(report.reason).toMatch(/schema_drift/);
    expect(report.drift.length).toBeGreaterThan(0);
  });

  it('a seed-like sensor CSV with bad lines: the check writes nothing, and its counts by rule are the real load’s', async () => {
    const text = seedLikeCsv({ lines: 300, devices: ['b8:27:eb:bf:9d:51', '00:0f:00:70:91:0a', '1c:bf:ce:15:ec:4d'], startEpoch: 1_594_512_000, badLines: [5, 17, 40, 41, 200, 250] });
    const before = await snapshot();
    const report = await run('split_7.csv', text);
    expect(await snapshot()).toEqual(before);
    expect(report).toMatchObject({ kind: 'sensor_wide_csv', contract: null, verdict: 'load', duplicate_rows: 0, reason: null });
    expect(Object.keys(report.rejected).sort()).toEqual(['invalid_timestamp', 'not_a_number', 'out_of_range']);

    const fileId = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'split_7.csv', 'f', $2, 0, 'processing')`, [fileId, report.sha256]);
    const loaded = await withTransaction(ds, (client) => new SensorCsvLoader(ds).load(client, fileId, 'sensor_wide_csv', () => Readable.from([Buffer.from(text)]), opts));
    const byRule = Object.fromEntries(
      (await ds.query(`SELECT rule, count(*)::int AS n FROM ingest_errors WHERE file_id = $1 GROUP BY rule`, [fileId])).map((r: { rule: string; n: number }) => [r.rule, r.n]),
    );
    expect({ total: report.rows_total, load: report.would_load, rejected: report.rejected }).toEqual({ total: loaded.rowsTotal, load: loaded.rowsLoaded, rejected: byRule });
    expect(Object.values(byRule).reduce((a, b) => a + b, 0)).toBe(loaded.rowsRejected);

    // The same readings in a file of other bytes: every good row is loaded already.
    const again = await run('split_8.csv', text.replace(/\n/g, '\r\n'));
    expect(again).toMatchObject({ verdict: 'load', duplicate_rows: loaded.rowsLoaded });
  });

  it('refuses a file whose contract table differs from the contract, as the load does, with the differences', async () => {
    await ds.query(`ALTER TABLE ${SCHEMA}.meter_readings ALTER COLUMN kwh TYPE text`);
    try {
      const report = await run('meter-export.json', readFileSync(join(EXAMPLES, 'meter-export.json')));
      expect(report).toMatchObject({ kind: 'contract', contract: 'meters', verdict: 'quarantine', rows_total: null });
      expect(report.reason).toMatch(/^table_mismatch: the table datasets\.meter_readings does not match contract meters .*kwh/);
      expect(report.drift).toContainEqual(expect.objectContaining({ kind: 'type_differs', column: 'kwh', found: 'text' }));
    } finally {
      await ds.query(`ALTER TABLE ${SCHEMA}.meter_readings ALTER COLUMN kwh TYPE double precision USING kwh::double precision`);
    }
  });
});

