import { loadConfig, WatcherConfig } from '@sluice/config';
import { emptyReport, type MaintenanceJob, type MaintenanceReport, type PartitionWork } from '@sluice/maintenance';
import type { PeriodicJobs } from '@sluice/observability';
import { register } from 'prom-client';
import { TaskTracker } from './concurrency.util';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { WatcherMetrics } from './watcher.metrics';

const report = (over: Partial<MaintenanceReport> = {}): MaintenanceReport => ({
  ...emptyReport('schedule', false, new Date('2026-06-15T12:00:00.000Z')),
  finishedAt: '2026-06-15T12:00:02.000Z',
  defaultRows: { raw_sensor_data: 3 },
  bytesReclaimed: 4096,
  ...over,
});

/** Schedules nothing: the spec calls runOnce itself. */
class NoJobs implements Pick<PeriodicJobs, 'cron' | 'every' | 'stop'> {
  readonly scheduled: string[] = [];
  cron(name: string, expression: string): Date {
    this.scheduled.push(`${name} at ${expression}`);
    return new Date();
  }
  every(name: string, everyMs: number): void {
    this.scheduled.push(`${name} every ${everyMs}`);
  }
  stop(): void {
    // Nothing was scheduled.
  }
}

describe('MaintenanceScheduler', () => {
  const metrics = new WatcherMetrics();
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await register.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;

  function scheduler(result: MaintenanceReport) {
    const jobs = new NoJobs();
    const job: Pick<MaintenanceJob, 'run'> = { run: async () => result };
    const partitions: Pick<PartitionWork, 'defaultRows'> = { defaultRows: async () => ({ raw_sensor_data: 0, detection_events: 0, log_lines: 0 }) };
    const s = new MaintenanceScheduler(loadConfig(WatcherConfig, { MAINTENANCE_CRON: '30 2 * * *' }), job as MaintenanceJob, partitions as PartitionWork, jobs as unknown as PeriodicJobs, new TaskTracker(), metrics);
    return { s, jobs };
  }

  it('schedules the job at MAINTENANCE_CRON and the count of default-partition rows', () => {
    const { s, jobs } = scheduler(report());
    s.onApplicationBootstrap();
    expect(jobs.scheduled).toEqual(['watcher.maintenance at 30 2 * * *', 'watcher.default-partition-rows every 15000']);
  });

  it('counts a run by its outcome, with the bytes it reclaimed and the rows left in default partitions', async () => {
    const before = { ok: await value('sluice_maintenance_runs_total', { outcome: 'ok' }), bytes: await value('sluice_maintenance_bytes_reclaimed_total') };
    await scheduler(report()).s.runOnce();
    expect(await value('sluice_maintenance_runs_total', { outcome: 'ok' })).toBe(before.ok + 1);
    expect(await value('sluice_maintenance_bytes_reclaimed_total')).toBe(before.bytes + 4096);
    expect(await value('sluice_partition_default_rows', { table: 'raw_sensor_data' })).toBe(3);
    expect(await value('sluice_maintenance_last_run_timestamp_seconds')).toBe(Date.parse('2026-06-15T12:00:02.000Z') / 1000);
  });

  it('counts a run another replica held as skipped, and one with a failed part as failed', async () => {
    const skipped = await value('sluice_maintenance_runs_total', { outcome: 'skipped' });
    const failed = await value('sluice_maintenance_runs_total', { outcome: 'failed' });
    await scheduler(report({ skipped: 'another run holds the maintenance lock' })).s.runOnce();
    await scheduler(report({ errors: { ledgerRows: 'statement timeout' } })).s.runOnce();
    expect(await value('sluice_maintenance_runs_total', { outcome: 'skipped' })).toBe(skipped + 1);
    expect(await value('sluice_maintenance_runs_total', { outcome: 'failed' })).toBe(failed + 1);
  });
});
