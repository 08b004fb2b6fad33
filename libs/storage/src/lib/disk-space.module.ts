import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CommonConfig, formatBytes } from '@sluice/config';
import { PeriodicJobs, ReadinessRegistry } from '@sluice/observability';
import { Gauge, register } from 'prom-client';
import { DiskSpace, type DiskState } from './disk-space';
import { dropzoneDirOf } from './storage.module';

/** How often the monitor reads the free space (callers also read it on demand, see DiskSpace.current). */
export const DISK_CHECK_INTERVAL_MS = 5000;

export interface DiskSpaceOptions {
  /** The app's name: the `app` label of the gauges and the job's name. */
  app: string;
  /** What the app stops while the disk is low, for its log lines ("claims from incoming/"). */
  pauses: string;
  /** Period of the check (default DISK_CHECK_INTERVAL_MS). */
  everyMs?: number;
}

const DISK_SPACE_OPTIONS = Symbol('DISK_SPACE_OPTIONS');

// Several apps in one process (tests) share the default registry: register once, reuse after; the `app` label tells them apart.
function gauge(name: string, help: string): Gauge<'app'> {
  return (register.getSingleMetric(name) as Gauge<'app'> | undefined) ?? new Gauge({ name, help, labelNames: ['app'] as const });
}

/**
 * Reads the drop folder's free space every few seconds and reports it: `sluice_disk_free_bytes{app}`,
 * `sluice_disk_low{app}` (1 below MIN_FREE_DISK), the readiness check `disk` (degraded, never down: the
 * service still does all its other work) and one log line when the disk gets low and one when space is back.
 */
@Injectable()
export class DiskSpaceMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DiskSpaceMonitor.name);
  private readonly freeBytes = gauge('sluice_disk_free_bytes', "Bytes free on the drop folder's file system (as last read; see MIN_FREE_DISK)");
  private readonly lowGauge = gauge('sluice_disk_low', "1 while the drop folder's file system has less than MIN_FREE_DISK free: new files are not claimed, bodies not written there");
  private readonly job: string;

  constructor(
    private readonly disk: DiskSpace,
    private readonly readiness: ReadinessRegistry,
    private readonly jobs: PeriodicJobs,
    @Inject(DISK_SPACE_OPTIONS) private readonly opts: DiskSpaceOptions,
  ) {
    this.job = `${opts.app}.disk-space`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const labels = { app: this.opts.app };
    this.lowGauge.set(labels, 0);
    if (!this.disk.enabled) {
      this.logger.log('MIN_FREE_DISK is 0: the free space of the drop folder is not checked');
      return;
    }
    this.disk.onChange((state, previous) => this.changed(state, previous));
    this.readiness.register(
      'disk',
      async () => {
        const state = await this.disk.current();
        if (state.problem) throw new Error(state.problem);
      },
      { required: false },
    );
    await this.checkNow();
    this.jobs.every(this.job, this.opts.everyMs ?? DISK_CHECK_INTERVAL_MS, () => this.checkNow());
  }

  onModuleDestroy(): void {
    this.jobs.stop(this.job);
  }

  private async checkNow(): Promise<void> {
    const state = await this.disk.check();
    const labels = { app: this.opts.app };
    if (state.freeBytes !== null) this.freeBytes.set(labels, state.freeBytes);
    this.lowGauge.set(labels, state.low ? 1 : 0);
  }

  private changed(state: DiskState, previous: DiskState): void {
    this.lowGauge.set({ app: this.opts.app }, state.low ? 1 : 0);
    if (state.freeBytes !== null) this.freeBytes.set({ app: this.opts.app }, state.freeBytes);
    if (state.low) this.logger.warn(`${state.problem}: ${this.opts.pauses} paused until space is back`);
    else if (state.freeBytes === null) this.logger.error(`${state.problem}; ${this.opts.pauses} go on`);
    else if (previous.low) this.logger.log(`drop folder has ${formatBytes(state.freeBytes)} free again (MIN_FREE_DISK ${formatBytes(state.minFreeBytes)}): ${this.opts.pauses} resumed`);
    else this.logger.log(`the free space of the drop folder can be read again: ${formatBytes(state.freeBytes)} free`);
  }
}

/**
 * DiskSpace at DROPZONE_DIR with MIN_FREE_DISK, and its monitor (see DiskSpaceMonitor), for the apps that write
 * new content into the drop folder (the watcher's claims, the ingest-api's bodies). Needs ObservabilityModule.
 */
@Module({})
export class DiskSpaceModule {
  static forRoot(opts: DiskSpaceOptions): DynamicModule {
    return {
      module: DiskSpaceModule,
      providers: [
        { provide: DISK_SPACE_OPTIONS, useValue: opts },
        { provide: DiskSpace, inject: [CommonConfig], useFactory: (config: CommonConfig) => new DiskSpace(dropzoneDirOf(config), config.minFreeDiskBytes) },
        DiskSpaceMonitor,
      ],
      exports: [DiskSpace],
    };
  }
}
