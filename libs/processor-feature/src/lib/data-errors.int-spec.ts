import 'reflect-metadata';
import { aggregateMismatches, waitFor, wideCsv } from '@sluice/testing';
import { Client } from 'pg';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';

/**
 * A permanent data error is never retried and never costs the good rows: a record PostgreSQL cannot
 * store is a row error with its line, found before the database sees it; what the database refuses all
 * the same quarantines the file at once. A transient failure is retried, then `failed` with its reason.
 */
describe('processor: data errors and transient failures', () => {
  let t: ProcessorTestApp;
  const query = <T>(sql: string, params: unknown[] = []) => t.query<T>(sql, params);

  beforeAll(async () => {
    t = await startProcessorApp('data-errors');
  });

  afterAll(async () => {
    await t?.close();
  });

  const terminal = async (id: string) => {
    await waitFor(`file ${id} terminal`, async () => ['processed', 'quarantined', 'failed'].includes((await t.statusOf(id)) ?? ''));
    return (await query<{ status: string; rows_loaded: string; rows_rejected: string; attempts: number; error: { rule: string; message: string } | null }>(
      'SELECT status, rows_loaded, rows_rejected, attempts, error FROM ingest_files WHERE id = $1',
      [id],
    ))[0];
  };
  type RowError = { line: number; column: string | null; rule: string };
  /** Loads `body` as a file: processed in one attempt, `loaded` rows loaded and exactly `errors` recorded. */
  const expectRowErrors = async (name: string, body: Buffer, loaded: number, errors: RowError[]) => {
    const id = await t.enqueue(name, body);
    expect(await terminal(id)).toMatchObject({ status: 'processed', rows_loaded: String(loaded), rows_rejected: String(errors.length), attempts: 1 });
    expect(await query<RowError>('SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1 ORDER BY line', [id])).toEqual(errors);
  };

  it('a \\u0000 or bytes that are not UTF-8 (past 64 KiB) in a JSON document are row errors; the other items load, in one attempt', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => Buffer.from(`  {"vehicle_id": "nul-${i}", "report_time": "2023-01-01T00:00:00Z", "status": "idle"}`));
    items[4] = Buffer.from('  {"vehicle_id": "a\\u0000b", "report_time": "2023-01-01T00:00:00Z", "status": "idle"}');
    items[900] = Buffer.concat([Buffer.from('  {"vehicle_id": "nul-900", "report_time": "2023-01-01T00:00:00Z", "status": "id'), Buffer.from([0xff]), Buffer.from('le"}')]);
    const body = Buffer.concat([Buffer.from('{"vehicle_status": [\n'), ...items.flatMap((b, i) => (i ? [Buffer.from(',\n'), b] : [b])), Buffer.from('\n]}')]);
    expect(body.indexOf(0xff)).toBeGreaterThan(64 * 1024);
    await expectRowErrors('vehicle_status_nul.json', body, 998, [
      { line: 6, column: 'vehicle_status[4].vehicle_id', rule: 'invalid_character' },
      { line: 902, column: 'vehicle_status[900].status', rule: 'invalid_utf8' },
    ]);
    expect(await query(`SELECT count(*)::int AS n FROM vehicles_status WHERE vehicle_id LIKE 'nul-%'`)).toEqual([{ n: 998 }]);
  });

  it('NDJSON: \\u0000, a lone \\ud800 and bytes that are not UTF-8 are row errors of their lines, a first line over 64 KiB is NDJSON', async () => {
    const data = Array.from({ length: 25_000 }, (_, i) => (i % 10) / 10).join(',');
    const reading = (i: number, sensor = 'nd-enc/temp') => Buffer.from(`{"kind":"sensor_reading","sensor":"${sensor}","ts":"2023-02-01T00:${String(i).padStart(2, '0')}:00Z","value":${i}}\n`);
    const lines = [
      Buffer.from(`{"kind":"measurement","time_stamp":"2023-02-01T00:00:00Z","data":[${data}]}\n`),
      ...Array.from({ length: 57 }, (_, i) => reading(i)),
      reading(57, 'nd-enc\\u0000/temp'),
      reading(58, 'nd-enc\\ud800/temp'),
      Buffer.concat([Buffer.from('{"kind":"sensor_reading","sensor":"nd-enc'), Buffer.from([0xff]), Buffer.from('/temp","ts":"2023-02-01T00:59:00Z","value":1}\n')]),
    ];
    expect(lines[0].length).toBeGreaterThan(64 * 1024);
    await expectRowErrors('mixed-encoding.ndjson', Buffer.concat(lines), 58, [
      { line: 59, column: 'sensor', rule: 'invalid_character' },
      { line: 60, column: 'sensor', rule: 'invalid_utf8' },
      { line: 61, column: null, rule: 'invalid_utf8' },
    ]);
    expect(await query(`SELECT name FROM sensors WHERE name LIKE 'nd-enc%' ORDER BY name`)).toEqual([{ name: 'nd-enc/temp' }]);
    expect(await query(`SELECT sample_count FROM measurements WHERE timestamp_utc = '2023-02-01T00:00:00Z'`)).toEqual([{ sample_count: 25_000 }]);
  });

  it('CSV: a NUL byte past the first 64 KiB and bytes that are not UTF-8 (in row 3 and past 64 KiB) are row errors; the rest loads', async () => {
    const lines = wideCsv({ lines: 3000, devices: ['enc-a', 'enc-b'], startEpoch: 1.9e9 }).split('\n');
    const withDevice = (i: number, device: Buffer) => {
      const [before, after] = lines[i].split('"enc-a"');
      return Buffer.concat([Buffer.from(`${before}"`), device, Buffer.from(`"${after}`)]);
    };
    const parts = lines.map((l) => Buffer.from(l));
    parts[3] = withDevice(3, Buffer.from([0x65, 0xff, 0xfe])); // line 4, row 3
    parts[1801] = withDevice(1801, Buffer.from([0x65, 0x00, 0x66])); // line 1802, past 64 KiB
    parts[2501] = withDevice(2501, Buffer.from([0x65, 0xc3])); // line 2502, a cut sequence
    const file = Buffer.concat(parts.flatMap((p, i) => (i < parts.length - 1 ? [p, Buffer.from('\n')] : [p])));
    expect(file.indexOf(0)).toBeGreaterThan(64 * 1024);
    await expectRowErrors('encoding.csv', file, 2997, [
      { line: 4, column: 'device', rule: 'invalid_utf8' },
      { line: 1802, column: 'device', rule: 'invalid_character' },
      { line: 2502, column: 'device', rule: 'invalid_utf8' },
    ]);
    expect(await query(`SELECT count(*)::int AS n FROM sensors WHERE name !~ '^[a-z/_-]+$' AND name LIKE 'e%'`)).toEqual([{ n: 0 }]);
    expect(await aggregateMismatches({ query })).toEqual([]);
  });

  it('CSV: a wide header longer than 64 KiB is read whole', async () => {
    const metrics = Array.from({ length: 9000 }, (_, i) => `wide_metric_${i}`);
    const header = `ts,device,${metrics.join(',')}\n`;
    expect(header.length).toBeGreaterThan(64 * 1024);
    const id = await t.enqueue('wide-header.csv', Buffer.from(`${header}2000000000,wide-dev,${metrics.map((_, i) => i % 50).join(',')}\n`));
    expect(await terminal(id)).toMatchObject({ status: 'processed', rows_loaded: '1', attempts: 1 });
    expect(await query(`SELECT count(*)::int AS n FROM sensors WHERE name LIKE 'wide-dev/wide_metric_%'`)).toEqual([{ n: 9000 }]);
  });

  it('what PostgreSQL refuses all the same (here a CHECK constraint, SQLSTATE 23514) quarantines the file at once, not after retries', async () => {
    await query(`ALTER TABLE vehicles_status ADD CONSTRAINT spec_no_forbidden CHECK (status <> 'forbidden')`);
    try {
      const id = await t.enqueue('vehicle_status_forbidden.json', Buffer.from('{"vehicle_status": [{"vehicle_id": "chk-1", "report_time": "2023-01-01T00:00:00Z", "status": "forbidden"}]}'));
      const row = await terminal(id);
      expect(row).toMatchObject({ status: 'quarantined', attempts: 1, error: { rule: 'rejected_by_database', message: expect.stringContaining('SQLSTATE 23514') } });
    } finally {
      await query(`ALTER TABLE vehicles_status DROP CONSTRAINT spec_no_forbidden`);
    }
  });

  describe('transient failures', () => {
    let locker: Client;

    beforeEach(async () => {
      locker = new Client({ connectionString: t.db.url });
      await locker.connect();
    });

    afterEach(async () => {
      await locker.end();
    });

    /** Holds the table locked until a load waits for it, then cancels that load's statement (SQLSTATE 57014). */
    const cancelWaitingLoad = async () => {
      const pid = await waitFor('a load waiting for the lock', async () => {
        const rows = await query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return rows[0]?.pid;
      });
      await query('SELECT pg_cancel_backend($1)', [pid]);
    };
    const file = (vehicle: string) => Buffer.from(`{"vehicle_status": [{"vehicle_id": "${vehicle}", "report_time": "2023-01-01T00:00:00Z", "status": "idle"}]}`);

    it('are retried with backoff and the file loads once the cause is gone', async () => {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE vehicles_status IN ACCESS EXCLUSIVE MODE');
      const id = await t.enqueue('vehicle_status_retry.json', file('retry-1'));
      await cancelWaitingLoad();
      await locker.query('COMMIT');
      expect(await terminal(id)).toMatchObject({ status: 'processed', rows_loaded: '1', attempts: 2 });
    });

    it('end `failed` with the reason once MAX_ATTEMPTS are used', async () => {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE vehicles_status IN ACCESS EXCLUSIVE MODE');
      const id = await t.enqueue('vehicle_status_fail.json', file('fail-1'));
      await cancelWaitingLoad();
      await waitFor('second attempt', async () => (await query<{ attempts: number }>('SELECT attempts FROM ingest_files WHERE id = $1', [id]))[0]?.attempts === 2);
      await cancelWaitingLoad();
      const row = await terminal(id);
      await locker.query('COMMIT');
      expect(row).toMatchObject({ status: 'failed', attempts: 2, error: { rule: 'processing_failed', message: expect.stringMatching(/SQLSTATE 57014.*attempt 2 of 2/) } });
    });
  });
});
