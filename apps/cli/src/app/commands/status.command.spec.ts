import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { CliContext } from '../cli-context';
import { buildProgram, runCli } from '../program';

// A file named to set the window title, clear the screen and colour what follows (C1 CSI), and a reason quoting it.
const HOSTILE = 'x\u001b]0;owned\u0007\u001b[2J\u009b31m.csv';
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** The ledger as the status command's queries see it (no object-store sources). */
class FakeLedger {
  async query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    if (sql.includes('s3_source_checkpoints')) return [];
    // The figures of the contracts in force: weather has a table past the exact count, meters none yet.
    if (sql.includes('FROM contract_versions')) return [{ name: 'weather', hash: 'h', first_used_at: '2026-01-04T00:00:00.000000Z' }];
    if (sql.includes('contract_name = ANY')) {
      return [{ name: 'weather', status: 'processed', n: 3, last: '2026-01-05T11:00:00.000000Z' }, { name: 'weather', status: 'quarantined', n: 1, last: '2026-01-05T09:00:00.000000Z' }];
    }
    if (sql.includes('to_regclass($1)')) return params[0] === '"datasets"."weather"' ? [{ estimate: '250000' }] : [];
    if (sql.includes('LIMIT 100001')) return [{ n: '100001' }];
    // raw_sensor_data's leaves by lower bound (for the oldest reading): the default one, an empty month, the oldest readings' month.
    if (sql.includes('regexp_match')) {
      return [{ leaf: 'raw_sensor_data_default', is_default: true }, { leaf: 'raw_sensor_data_p20250901', is_default: false }, { leaf: 'raw_sensor_data_p20251001', is_default: false }];
    }
    if (sql.includes('pg_partition_tree')) {
      const { STORAGE_TABLES } = await import('@sluice/db');
      const partitioned: Record<string, number> = { raw_sensor_data: 13, detection_events: 4, log_lines: 4 };
      return STORAGE_TABLES.map((name) =>
        name === 'raw_sensor_data'
          ? { name, bytes: String(3 * 1024 ** 3 + 1), partitions: 13, estimated_rows: '20480000' }
          : { name, bytes: '8192', partitions: partitioned[name] ?? 0, estimated_rows: '0' },
      );
    }
    if (sql.includes('FROM sensors s')) return [{ oldest: sql.includes('ONLY raw_sensor_data_p20251001') ? '2025-10-07T00:00:00.000000Z' : null }];
    if (sql.includes('FROM maintenance_runs')) {
      return [{ started_at: '2026-01-05T10:00:00.000000Z', finished_at: '2026-01-05T10:00:02.500000Z', dry_run: false, trigger: 'schedule', bytes_reclaimed: String(700 * 1024 ** 2), error: null }];
    }
    if (sql.includes('GROUP BY status')) return [{ status: 'quarantined', n: 1, readings: '0', rejected: '0' }, { status: 'queued', n: 1, readings: '0', rejected: '0' }];
    if (sql.includes("IN ('queued','processing')")) return [{ id: '20000000-0000-4000-8000-000000000002', name: HOSTILE, status: 'queued', attempts: 0, waiting: 3, total: 1 }];
    return [{ id: '10000000-0000-4000-8000-000000000001', name: HOSTILE, status: 'quarantined', rule: 'unrecognized_format', message: `${HOSTILE} is no known kind`, finished_at: '2026-01-01T00:00:00Z' }];
  }
}

/** The contracts folder the command reads: two examples and a file that is no contract. */
let contracts = '';
beforeAll(() => {
  contracts = mkdtempSync(join(tmpdir(), 'sluice-status-contracts-'));
  for (const name of ['weather', 'meters']) copyFileSync(join(__dirname, `../../../../../examples/contracts/${name}.yaml`), join(contracts, `${name}.yaml`));
  writeFileSync(join(contracts, 'broken.yaml'), 'inputs: [not, a, mapping]\n');
});
afterAll(() => rmSync(contracts, { recursive: true, force: true }));

async function status(...args: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const config = { PARTITION_INTERVAL: 'month', MAINTENANCE_CRON: '0 * * * *', RAW_RETENTION: '90d', LOG_RETENTION: '30d', CONTRACTS_DIR: contracts, CONTRACTS_SCHEMA: 'datasets' };
  const ctx = { db: async () => new FakeLedger() as unknown as DataSource, config } as unknown as CliContext;
  await buildProgram(() => ctx, { out, err: new PassThrough() }).parseAsync(['node', 'sluice', 'status', ...args]);
  return text;
}

describe('sluice status', () => {
  it('shows control characters of names and reasons escaped, never raw', async () => {
    const out = await status();
    expect(out).not.toMatch(ACTIVE);
    expect(out).toContain('x\\x1b]0;owned\\x07\\x1b[2J\\x9b31m.csv');
  });

  it('--json too (JSON.stringify alone leaves C1 raw), and the JSON still reads back the name', async () => {
    const out = await status('--json');
    expect(out).not.toMatch(ACTIVE);
    expect((JSON.parse(out) as { inFlight: { name: string }[] }).inFlight[0].name).toBe(HOSTILE);
  });
});

describe('sluice status: storage', () => {
  it('lists each table on disk, the oldest reading, retention and the maintenance runs', async () => {
    const out = await status();
    const section = out.slice(out.indexOf('Storage:'));
    expect(section).toMatch(/^Storage: 3 GiB on disk \(time partitions by month\)/);
    expect(section).toMatch(/raw_sensor_data\s*│\s*3 GiB\s*│\s*13\s*│\s*20,480,000/);
    expect(section).toMatch(/ingest_payloads\s*│\s*8 KiB\s*│\s*-\s*│\s*0/);
    expect(section).toMatch(/log_lines\s*│\s*8 KiB\s*│\s*4\s*│\s*0/);
    expect(section).toContain('Oldest reading kept: 2025-10-07T00:00:00.000000Z');
    expect(section).toContain('  raw readings 90d, hourly aggregates kept, daily aggregates kept, log lines 30d');
    expect(section).toContain('Maintenance (0 * * * *, UTC)\n  last run: 2026-01-05T10:00:02.500000Z (schedule), 700 MiB reclaimed\n');
    expect(section).toMatch(/\n {2}next run: \d{4}-\d\d-\d\dT\d\d:00:00Z\n/);
  });

  it('--json carries the same figures', async () => {
    const { storage } = JSON.parse(await status('--json')) as { storage: { tables: { table: string; bytes: number }[]; retention: Record<string, string | null>; maintenance: { lastRun: { bytes_reclaimed: number } } } };
    expect(storage.tables.map((t) => t.table)).toEqual([...(await import('@sluice/db')).STORAGE_TABLES]);
    expect(storage.tables[0].bytes).toBe(3 * 1024 ** 3 + 1);
    expect(storage.retention['RAW_RETENTION']).toBe('90d');
    expect(storage.retention['DAILY_AGGREGATE_RETENTION']).toBeNull();
    expect(storage.maintenance.lastRun.bytes_reclaimed).toBe(700 * 1024 ** 2);
  });
});

describe('sluice status: datasets', () => {
  it('lists each contract in force with its table, rows, files and last load, and each refused contract file with its reason', async () => {
    const out = await status();
    const section = out.slice(out.indexOf('Datasets'), out.indexOf('Storage:'));
    expect(section).toContain(`Datasets (data contracts in ${contracts})`);
    // The table wraps cells to the terminal's width: its rows are checked at a width that fits them.
    const { renderDatasets } = await import('./status.command');
    const { datasets } = JSON.parse(await status('--json')) as { datasets: Parameters<typeof renderDatasets>[0] };
    const wide = renderDatasets(datasets, 200).join('\n');
    expect(wide).toMatch(/meters\s*│\s*datasets\.meter_readings\s*│\s*0 \(no table yet\)\s*│\s*0\s*│\s*never/);
    // Past the exact count: the estimate, marked.
    expect(wide).toMatch(/weather\s*│\s*datasets\.weather\s*│\s*~250,000\s*│\s*3 processed, 1 quarantined\s*│\s*2026-01-05T11:00:00\.000000Z/);
    expect(section).toContain('~250,000');
    expect(section).toContain('Contract files refused (1; a contract keeps its previous version in force)');
    expect(section).toMatch(new RegExp(`\\n {2}${join(contracts, 'broken.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(:\\d+)? inputs: `));
  });

  it('--json carries the figures and the problems', async () => {
    const { datasets } = JSON.parse(await status('--json')) as { datasets: { datasets: { name: string; rows: number; rows_exact: boolean; files: Record<string, number> }[]; problems: { file: string }[] } };
    expect(datasets.datasets.map((d) => [d.name, d.rows, d.rows_exact, d.files])).toEqual([
      ['meters', 0, true, {}],
      ['weather', 250_000, false, { processed: 3, quarantined: 1 }],
    ]);
    expect(new Set(datasets.problems.map((p) => p.file))).toEqual(new Set([join(contracts, 'broken.yaml')]));
  });
});

describe('error lines', () => {
  it('escape what the user or a server put in the message, and stay one line', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (c: Buffer) => (text += c.toString()));
    const code = await runCli(['node', 'sluice', 'retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', `\u001b[2J\n${HOSTILE}`, '--end-timestamp', '2013-01-02'], { out: new PassThrough(), err }, {});
    expect(code).toBe(2);
    expect(text).not.toMatch(ACTIVE);
    expect(text).toContain('\\x1b[2J\\x0ax\\x1b]0;owned');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
  });
});
