import 'reflect-metadata';
import { createDataSource, type PartitionedTable } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { MaintenanceJob } from './maintenance.job';
import { formatMaintenanceReport } from './maintenance.report';
import type { PartitionChange, PartitionWork, SweepResult } from './maintenance.types';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:30:00Z');

/** Partition work that records what it was asked (the partitions themselves are tested in libs/db). */
class RecordingPartitions implements PartitionWork {
  readonly calls: string[] = [];
  async ensureAhead(now: Date, o: { dryRun: boolean }): Promise<PartitionChange[]> {
    this.calls.push(`ahead ${now.toISOString()} dry=${o.dryRun}`);
    return [{ action: 'create', table: 'raw_sensor_data', name: 'raw_sensor_data_p20260701', from: new Date('2026-07-01T00:00:00Z'), to: new Date('2026-08-01T00:00:00Z') }];
  }
  async rehomeDefault(o: { dryRun: boolean }): Promise<PartitionChange[]> {
    this.calls.push(`rehome dry=${o.dryRun}`);
    return [];
  }
  async dropBefore(table: PartitionedTable, horizon: Date, o: { dryRun: boolean }): Promise<PartitionChange[]> {
    this.calls.push(`drop ${table} ${horizon.toISOString()} dry=${o.dryRun}`);
    return [{ action: 'drop', table, name: `${table}_p20260401`, from: new Date('2026-04-01T00:00:00Z'), to: new Date('2026-05-01T00:00:00Z'), bytes: 5000 }];
  }
  async defaultRows(): Promise<Record<PartitionedTable, number>> {
    return { raw_sensor_data: 1, detection_events: 0, log_lines: 0 };
  }
}

describe('MaintenanceJob', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('maintenance_job');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    await ds.query(`TRUNCATE aggregated_metrics, maintenance_runs`);
    // Hourly buckets every hour for 10 days before NOW, daily buckets for those days.
    await ds.query(
      `INSERT INTO aggregated_metrics (sensor_id, bucket, bucket_start, count, min, max, mean, m2)
       SELECT 1, 'hour', h, 1, 1, 1, 1, 0 FROM generate_series(date_trunc('hour', $1::timestamptz) - interval '10 days', date_trunc('hour', $1::timestamptz) - interval '1 hour', interval '1 hour') h
       UNION ALL
       SELECT 1, 'day', d, 24, 1, 1, 1, 0 FROM generate_series(date_trunc('day', $1::timestamptz) - interval '10 days', date_trunc('day', $1::timestamptz), interval '1 day') d`,
      [NOW],
    );
  });

  const job = (partitions: PartitionWork, extra: Partial<ConstructorParameters<typeof MaintenanceJob>[0]> = {}) =>
    new MaintenanceJob({ db: ds, retention: { rawMs: 30 * DAY, hourlyAggregateMs: 2 * DAY, dailyAggregateMs: 5 * DAY }, partitions, sweeps: {}, now: () => NOW, ...extra });

  const counts = async () =>
    Object.fromEntries(
      ((await ds.query(`SELECT bucket, count(*)::int AS n, min(bucket_start) AS oldest FROM aggregated_metrics GROUP BY bucket`)) as { bucket: string; n: number; oldest: Date }[]).map((r) => [r.bucket, r]),
    );

  it('removes whole aggregate buckets that end at or before their horizon, and records the run', async () => {
    const partitions = new RecordingPartitions();
    const report = await job(partitions).run({ dryRun: false, trigger: 'cli' });

    const after = await counts();
    // Hourly horizon NOW − 2 days = 06-13 12:30: the bucket 11:00–12:00 ends before it, 12:00–13:00 does not.
    expect(after['hour'].oldest.toISOString()).toBe('2026-06-13T12:00:00.000Z');
    expect(after['hour'].n).toBe(48);
    // Daily horizon NOW − 5 days = 06-10 12:30: the day 06-09 ended before it, 06-10 did not.
    expect(after['day'].oldest.toISOString()).toBe('2026-06-10T00:00:00.000Z');
    expect(report.aggregates).toEqual([
      { bucket: 'hour', horizon: '2026-06-13T12:30:00.000Z', rows: 240 - 48 },
      { bucket: 'day', horizon: '2026-06-10T12:30:00.000Z', rows: 5 },
    ]);
    expect(partitions.calls).toEqual([
      `ahead ${NOW.toISOString()} dry=false`,
      'rehome dry=false',
      `drop raw_sensor_data ${new Date(NOW.getTime() - 30 * DAY).toISOString()} dry=false`,
      `drop detection_events ${new Date(NOW.getTime() - 30 * DAY).toISOString()} dry=false`,
    ]);
    expect(report.bytesReclaimed).toBe(10000);
    expect(report.defaultRows).toEqual({ raw_sensor_data: 1, detection_events: 0, log_lines: 0 });
    const runs = (await ds.query(`SELECT dry_run, trigger, bytes_reclaimed::int AS bytes, error, report->'aggregates' AS aggregates FROM maintenance_runs`)) as unknown[];
    expect(runs).toEqual([{ dry_run: false, trigger: 'cli', bytes: 10000, error: null, aggregates: report.aggregates }]);
  });

  it('changes nothing on a dry run, and reports the same counts the real run then removes', async () => {
    const before = await counts();
    const dry = await job(new RecordingPartitions()).run({ dryRun: true, trigger: 'cli' });
    expect(await counts()).toEqual(before);
    expect(await ds.query(`SELECT count(*)::int AS n FROM maintenance_runs`)).toEqual([{ n: 0 }]);
    expect(formatMaintenanceReport(dry)[0]).toBe('maintenance dry run: nothing was changed');
    expect(formatMaintenanceReport(dry)).toContain('  partition would drop raw_sensor_data_p20260401 [2026-04-01, 2026-05-01), 4.9 KiB');

    const real = await job(new RecordingPartitions()).run({ dryRun: false, trigger: 'cli' });
    expect(real.aggregates).toEqual(dry.aggregates);
  });

  it('runs once at a time: a second run while the lock is held does nothing', async () => {
    const holder = ds.createQueryRunner();
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('sluice.maintenance'))`);
      const partitions = new RecordingPartitions();
      const report = await job(partitions).run({ dryRun: false, trigger: 'schedule' });
      expect(report.skipped).toMatch(/lock/);
      expect(partitions.calls).toEqual([]);
      expect(formatMaintenanceReport(report)).toEqual(['maintenance skipped: another run holds the maintenance lock']);
    } finally {
      await holder.query(`SELECT pg_advisory_unlock_all()`);
      await holder.release();
    }
    expect((await counts())['hour'].n).toBe(240);
  });

  it('goes on with the other parts when one fails, and records the failure', async () => {
    const partitions = new RecordingPartitions();
    partitions.dropBefore = async () => {
      throw new Error('lock timeout on raw_sensor_data_p20260401');
    };
    const swept: SweepResult = { items: 2, bytes: 300, examples: ['a.csv', 'b.csv'] };
    const report = await job(partitions, {
      retention: { rawMs: 30 * DAY, processedMs: 7 * DAY },
      sweeps: { processedFiles: async (horizon) => (horizon.getTime() === NOW.getTime() - 7 * DAY ? swept : { items: 0, bytes: 0, examples: [] }) },
    }).run({ dryRun: false, trigger: 'schedule' });
    expect(report.errors).toEqual({ 'raw_sensor_data retention': 'lock timeout on raw_sensor_data_p20260401', 'detection_events retention': 'lock timeout on raw_sensor_data_p20260401' });
    expect(report.sweeps.processedFiles).toEqual({ ...swept, horizon: new Date(NOW.getTime() - 7 * DAY).toISOString() });
    expect(report.bytesReclaimed).toBe(300);
    const [run] = (await ds.query(`SELECT error FROM maintenance_runs`)) as { error: string }[];
    expect(run.error).toBe('raw_sensor_data retention: lock timeout on raw_sensor_data_p20260401; detection_events retention: lock timeout on raw_sensor_data_p20260401');
    expect(formatMaintenanceReport(report)).toContain('  FAILED raw_sensor_data retention: lock timeout on raw_sensor_data_p20260401');
  });
});
