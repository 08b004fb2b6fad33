import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { WatcherConfig } from '@sluice/config';
import { PeriodicJobs } from '@sluice/observability';
import { DiskSpace, DropAreas } from '@sluice/storage';
import { TaskTracker } from './concurrency.util';
import { IncomingWatcher } from './incoming-watcher.service';
import { Reconciler } from './reconciler.service';

/** The watcher's periodic jobs (names in the SchedulerRegistry). */
const RESCAN_JOB = 'watcher.rescan';
const ADOPT_HELD_JOB = 'watcher.adopt-held';

/** Starts and stops the watcher's parts in order; runs the periodic rescan. */
@Injectable()
export class WatcherService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WatcherService.name);
  private rescanning?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly config: WatcherConfig,
    private readonly drop: DropAreas,
    private readonly incoming: IncomingWatcher,
    private readonly reconciler: Reconciler,
    private readonly tasks: TaskTracker,
    private readonly jobs: PeriodicJobs,
    private readonly disk: DiskSpace,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.drop.init();
    await this.incoming.start();
    // Files that arrived while the disk was low are claimed as soon as space is back, not at the next rescan.
    this.disk.onChange((state, previous) => {
      if (previous.low && !state.low && !this.stopping) void this.tasks.track(this.incoming.scan()).catch((e: unknown) => this.logger.error(`scan of incoming/ failed: ${(e as Error).message}`));
    });
    // The first pass runs in the background so that a large backlog does not delay readiness.
    void this.rescan();
    this.jobs.every(RESCAN_JOB, this.config.RESCAN_INTERVAL_MS, () => this.rescan());
    // Files claimed while still open for writing are registered soon after their writer closes them.
    this.jobs.every(ADOPT_HELD_JOB, Math.max(1000, this.config.STABILITY_WINDOW_MS), () => this.adoptHeld());
    this.logger.log(`watcher started on ${this.drop.root} (rescan every ${this.config.RESCAN_INTERVAL_MS} ms)`);
  }

  /** One pass of reconciliation and a full scan of incoming/; never two at once. */
  rescan(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.rescanning ??= this.tasks
      .track(
        (async () => {
          try {
            await this.reconciler.reconcile();
            await this.incoming.scan();
          } catch (e) {
            this.logger.error(`rescan failed: ${(e as Error).message}`);
          }
        })(),
      )
      .finally(() => (this.rescanning = undefined));
    return this.rescanning;
  }

  private adoptHeld(): Promise<void> {
    if (this.stopping || this.rescanning) return Promise.resolve();
    return this.tasks.track(this.reconciler.adoptHeld().catch((e: unknown) => this.logger.error(`registering held files failed: ${(e as Error).message}`)));
  }

  /** Runs before the NATS and database connections close: stop intake, then finish what is in flight. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.jobs.stop(RESCAN_JOB, ADOPT_HELD_JOB);
    await this.incoming.stop();
    await this.tasks.drain();
    this.logger.log('watcher stopped');
  }
}
