import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, WatcherConfig } from '@sluice/config';
import { OUTCOME_SUBJECTS } from '@sluice/contracts';
import { DbModule } from '@sluice/db';
import { ContractsModule, LedgerModule } from '@sluice/loading';
import { MaintenanceModule } from '@sluice/maintenance';
import { AttemptPolicy, JetStreamConsumerModule, MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { DiskSpaceModule, StorageModule } from '@sluice/storage';
import { ClaimService } from './claim.service';
import { FileLocks, TaskTracker } from './concurrency.util';
import { IncomingWatcher } from './incoming-watcher.service';
import { LedgerQueries } from './ledger-queries.repository';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { OutcomeMover } from './outcome-mover.service';
import { OUTCOMES_ACK_WAIT_MS, OUTCOMES_DURABLE, OUTCOMES_MAX_DELIVER, OutcomeConsumer } from './outcome.consumer';
import { Reconciler } from './reconciler.service';
import { S3OutcomeSettler } from './s3-outcome-settler.service';
import { S3SourceWatcher } from './s3-source-watcher.service';
import { WatcherMetrics } from './watcher.metrics';
import { WatcherService } from './watcher.service';

@Module({})
export class WatcherModule {
  /** `env` replaces process.env (tests); the app passes nothing. */
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: WatcherModule,
      imports: [
        ConfigModule.forRoot(WatcherConfig, env),
        ObservabilityModule.forRoot('watcher'),
        DbModule.forRoot({ applicationName: 'sluice-watcher', poolSize: 5 }),
        MessagingModule.forRoot('sluice-watcher'),
        JetStreamConsumerModule.forRoot({ subjects: OUTCOME_SUBJECTS, durable: OUTCOMES_DURABLE, concurrency: 2, ackWaitMs: OUTCOMES_ACK_WAIT_MS, attempts: new AttemptPolicy(OUTCOMES_MAX_DELIVER) }),
        StorageModule.forRoot(),
        // Claims may write to the drop folder: none while it has less than MIN_FREE_DISK free.
        DiskSpaceModule.forRoot({ app: 'watcher', pauses: 'claims from incoming/' }),
        LedgerModule,
        // Read here too, so that a broken contract shows in this service's readiness as well.
        ContractsModule,
        MaintenanceModule,
      ],
      controllers: [OutcomeConsumer],
      providers: [
        LedgerQueries,
        WatcherMetrics,
        TaskTracker,
        FileLocks,
        OutcomeMover,
        ClaimService,
        Reconciler,
        IncomingWatcher,
        WatcherService,
        S3OutcomeSettler,
        S3SourceWatcher,
        MaintenanceScheduler,
      ],
    };
  }
}
