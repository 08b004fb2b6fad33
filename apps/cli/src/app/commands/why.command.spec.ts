import { PassThrough } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { CliContext } from '../cli-context';
import { buildProgram } from '../program';
import { renderStatus } from './status.command';
import type { WhyReport } from './why.command';

const ID = '3f2a6c1e-0c4e-4b8e-9a57-1d2c3b4a5f60';
const LONG_REASON =
  '12 of 40 rows are invalid (30 %), over MAX_INVALID_RATIO (5 %): the file does not look like a sensor CSV of this layout; the first rejected line is line 2, whose ts column holds "yesterday", which is no timestamp';
const ERRORS = Array.from({ length: 12 }, (_, i) => ({ line: i + 2, column: 'ts', rule: 'invalid_timestamp', message: `"${i}x" is not a timestamp`, value: `${i}x,dev,1` }));

const NDJSON_ID = '4b1e7c30-6f1c-4a9e-8b7d-2d8f3b7d4c55';
const OLD_ID = '5c2f8d41-7a2d-4b0f-9c8e-3e9a4c8e5d66';

/** The ledger as `sluice why` queries it: one quarantined file with 12 row errors, and a processed NDJSON file. */
class FakeLedger {
  readonly calls: unknown[][] = [];
  async query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    this.calls.push(params);
    if (sql.includes('FROM ingest_errors WHERE file_id = $1 ORDER BY')) return ERRORS.slice(params[1] as number, (params[1] as number) + (params[2] as number));
    if (sql.includes('count(*)::int AS n FROM ingest_errors')) return [{ n: ERRORS.length }];
    if (sql.includes('WHERE duplicate_of = $1')) return [{ n: 0 }];
    if (sql.includes('FROM ingest_files WHERE')) {
      if (params[0] === 'mixed.ndjson' || params[0] === NDJSON_ID) {
        return [
          {
            id: NDJSON_ID, source: 'api', name: 'mixed.ndjson', stored_path: `database/${NDJSON_ID}`, sha256: 'cd'.repeat(32), size_bytes: '640', kind: 'ndjson',
            status: 'processed', duplicate_of: null, rows_total: '6', rows_loaded: '6', rows_rejected: '0', rows_written: '7',
            rows_written_by_table: { raw_sensor_data: 3, measurements: 1, vehicles_status: 1, detection_events: 2 }, compression: null,
            archive_id: null, member_index: null, rule: null, message: null, attempts: 1, replays: 0, created_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z',
          },
        ];
      }
      if (params[0] === 'old.csv') {
        return [
          {
            id: OLD_ID, source: 'watcher', name: 'old.csv', stored_path: 'processed/old.csv', sha256: 'ef'.repeat(32), size_bytes: '10', kind: 'sensor_wide_csv',
            status: 'processed', duplicate_of: null, rows_total: '1', rows_loaded: '1', rows_rejected: '0', rows_written: '1', rows_written_by_table: { raw_sensor_data: 1 }, compression: null,
            archive_id: null, member_index: null, rule: null, message: null, attempts: 1, replays: 0, created_at: '2025-01-01T00:00:00Z', finished_at: '2025-01-01T00:00:01Z',
            expired_at: '2025-04-01T03:00:00Z',
          },
        ];
      }
      if (params[0] !== 'weather.csv' && params[0] !== ID) return [];
      return [
        {
          id: ID, source: 'watcher', name: 'weather.csv', stored_path: 'quarantine/weather.csv', sha256: 'ab'.repeat(32), size_bytes: '1234', kind: 'sensor_csv',
          status: 'quarantined', duplicate_of: null, rows_total: '40', rows_loaded: '0', rows_rejected: '12', rows_written: '0', rows_written_by_table: {}, compression: null,
          archive_id: null, member_index: null, rule: 'invalid_ratio', message: LONG_REASON, attempts: 1, replays: 0, created_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z',
        },
      ];
    }
    throw new Error(`unexpected query ${sql}`);
  }
}

async function sluice(...args: string[]): Promise<{ out: string; ledger: FakeLedger }> {
  const out = new PassThrough();
  (out as unknown as { columns: number }).columns = 80;
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const ledger = new FakeLedger();
  const ctx = { db: async () => ledger as unknown as DataSource, config: { DROPZONE_DIR: '/nonexistent-dropzone' } } as unknown as CliContext;
  await buildProgram(() => ctx, { out, err: new PassThrough() }).parseAsync(['node', 'sluice', ...args]);
  return { out: text, ledger };
}

const joined = (text: string) => text.replace(/\n\s+/g, ' ');

describe('sluice why', () => {
  it('shows the whole reason wrapped to the terminal, the row errors with line, column, rule and value, and the replay command', async () => {
    const { out } = await sluice('why', 'weather.csv');
    expect(out.split('\n').every((l) => l.length <= 80)).toBe(true);
    expect(joined(out)).toContain(`invalid_ratio: ${LONG_REASON}`);
    expect(out).toContain(`weather.csv  (${ID})`);
    expect(out).toContain('/nonexistent-dropzone/quarantine/weather.csv (no longer there)');
    expect(out).toContain('Row errors 1–12 of 12');
    expect(out).toContain('line 2, column ts: invalid_timestamp: "0x" is not a timestamp');
    expect(out).toContain('value: "0x,dev,1"');
    expect(out).toContain(`Replay: sluice replay ${ID}`);
  });

  it('says when retention removed the bytes of an expired file, and that it can no longer be replayed', async () => {
    const { out } = await sluice('why', 'old.csv');
    expect(joined(out)).toContain('/nonexistent-dropzone/processed/old.csv (removed by retention at 2025-04-01T03:00:00Z)');
    expect(out).toContain('Replay: not possible, retention removed its bytes at 2025-04-01T03:00:00Z');
    expect(out).not.toContain('sluice replay');
  });

  it('pages row errors', async () => {
    const { out } = await sluice('why', ID, '--errors', '5', '--page', '2');
    expect(out).toContain('Row errors 6–10 of 12 (--page for more)');
    expect(out).toContain('line 7, column ts');
    expect(out).not.toContain('line 6, column ts');
  });

  it('--json gives the same report', async () => {
    const { out } = await sluice('why', 'weather.csv', '--json');
    const report = JSON.parse(out) as { status: string; reason: { rule: string; message: string }; rowErrors: { total: number; shown: unknown[] }; replay: string };
    expect(report).toMatchObject({ status: 'quarantined', reason: { rule: 'invalid_ratio', message: LONG_REASON }, replay: `sluice replay ${ID}` });
    expect(report.rowErrors.total).toBe(12);
    expect(report.rowErrors.shown).toHaveLength(12);
  });

  it('counts readings as readings and the other rows it wrote under their own tables', async () => {
    const { out } = await sluice('why', 'mixed.ndjson');
    expect(out).toContain('rows        6 read, 6 loaded, 0 rejected');
    expect(joined(out)).toContain('written     3 readings (raw_sensor_data), 1 measurement (measurements), 1 vehicle status (vehicles_status), 2 detections (detection_events)');
    const report = JSON.parse((await sluice('why', NDJSON_ID, '--json')).out) as WhyReport;
    expect(report.rows).toEqual({ total: 6, loaded: 6, rejected: 0, readingsWritten: 3, written: 7, writtenByTable: { raw_sensor_data: 3, measurements: 1, vehicles_status: 1, detection_events: 2 } });
    expect((await sluice('why', 'weather.csv')).out).toContain('written     no rows');
  });

  it('names what it could not find', async () => {
    await expect(sluice('why', 'nothing.csv')).rejects.toThrow('no file named "nothing.csv" in the ledger');
  });
});

describe('sluice status', () => {
  it('fits the width it is given and keeps every reason whole', () => {
    const text = renderStatus(
      {
        statuses: { queued: 1, quarantined: 1 },
        readingsLoaded: 0,
        rowsWrittenByTable: { log_lines: 8 },
        rowsRejected: 12,
        inFlight: [{ id: ID, name: 'a-very-long-file-name-from-a-writer-that-likes-long-names-2026-01-01.csv', status: 'queued', attempts: 0, waitingSeconds: 3 }],
        inFlightTotal: 1,
        recentErrors: [{ id: ID, name: 'weather.csv', status: 'quarantined', rule: 'invalid_ratio', message: LONG_REASON, finishedAt: '2026-01-01T00:00:01Z' }],
        sources: [],
        storage: {
          tables: [
            { table: 'raw_sensor_data', bytes: 1_431_650_304, partitions: 13, estimated_rows: 20_480_000 },
            { table: 'ingest_payloads', bytes: 0, partitions: 0, estimated_rows: 0 },
          ],
          totalBytes: 1_431_650_304,
          oldestReading: '2025-10-07T00:00:00.000000Z',
          partitionInterval: 'month',
          retention: { RAW_RETENTION: '90d' },
          maintenance: { cron: '0 * * * *', nextRun: '2026-01-05T11:00:00Z', lastRun: { started_at: '2026-01-05T10:00:00Z', finished_at: '2026-01-05T10:00:02Z', dry_run: false, trigger: 'cli', bytes_reclaimed: 0, error: LONG_REASON } },
        },
        datasets: {
          folder: 'var/contracts',
          datasets: [
            { name: 'weather', table: 'datasets.weather', version: 'a'.repeat(64), first_used_at: null, table_exists: true, rows: 12, rows_exact: true, files: { processed: 2 }, last_load_at: '2026-01-05T11:00:00.000000Z' },
          ],
          problems: [{ file: 'var/contracts/meters.yaml', line: 4, field: 'columns[0].type', message: LONG_REASON }],
        },
      },
      80,
    );
    expect(text.split('\n').filter((l) => l.length > 80)).toEqual([]);
    expect(joined(text)).toContain(`invalid_ratio: ${LONG_REASON}`);
    expect(joined(text)).toContain(`(cli), failed: ${LONG_REASON}`);
    expect(joined(text)).toContain(`var/contracts/meters.yaml:4 columns[0].type: ${LONG_REASON}`);
    // Readings are readings (none here); log lines are counted under their own name.
    expect(text).toContain('readings loaded 0, log lines loaded 8, rejected lines 12');
  });
});
