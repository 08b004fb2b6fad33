import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { WatcherConfig } from '@sluice/config';
import { formatMaintenanceReport, MaintenanceJob, PartitionWork } from '@sluice/maintenance';
import { PeriodicJobs } from '@sluice/observability';
import { TaskTracker } from './concurrency.util';
import { WatcherMetrics } from './watcher.metrics';

const MAINTENANCE_JOB = 'watcher.maintenance';
const DEFAULT_ROWS_JOB = 'watcher.default-partition-rows';
/** How often the rows waiting in default partitions are counted for /metrics (cheap: they are few). */
const DEFAULT_ROWS_EVERY_MS = 15_000;

/**
 * Runs the partition and retention job at MAINTENANCE_CRON (every replica schedules it; the job's lock lets
 * one of them run it), and keeps the default partitions' row counts in /metrics between runs.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MaintenanceScheduler.name);

  constructor(
    private readonly config: WatcherConfig,
    private readonly job: MaintenanceJob,
    private readonly partitions: PartitionWork,
    private readonly jobs: PeriodicJobs,
    private readonly tasks: TaskTracker,
    private readonly metrics: WatcherMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.cron(MAINTENANCE_JOB, this.config.MAINTENANCE_CRON, () => this.tasks.track(this.runOnce()));
    void this.countDefaultRows();
    this.jobs.every(DEFAULT_ROWS_JOB, DEFAULT_ROWS_EVERY_MS, () => this.countDefaultRows());
  }

  /** One scheduled run; its report goes to the log, line by line. */
  async runOnce(): Promise<void> {
    const report = await this.job.run({ dryRun: false, trigger: 'schedule' });
    const outcome = report.skipped ? 'skipped' : Object.keys(report.errors).length ? 'failed' : 'ok';
    this.metrics.maintenanceRuns.inc({ outcome });
    if (report.skipped) return;
    this.metrics.bytesReclaimed.inc(report.bytesReclaimed);
    this.metrics.lastMaintenance.set(Date.parse(report.finishedAt) / 1000);
    this.setDefaultRows(report.defaultRows);
    const log = outcome === 'failed' ? (line: string) => this.logger.warn(line) : (line: string) => this.logger.log(line);
    for (const line of formatMaintenanceReport(report)) log(line);
  }

  private async countDefaultRows(): Promise<void> {
    try {
      this.setDefaultRows(await this.partitions.defaultRows());
    } catch (e) {
      this.logger.warn(`counting rows in default partitions failed: ${(e as Error).message}`);
    }
  }

  private setDefaultRows(rows: Record<string, number>): void {
    for (const [table, n] of Object.entries(rows)) this.metrics.defaultPartitionRows.set({ table }, n);
  }

  onModuleDestroy(): void {
    this.jobs.stop(MAINTENANCE_JOB, DEFAULT_ROWS_JOB);
  }
}
