import { type DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { ConfigModule, IngestApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { HttpApiModule, type ApiKeySettings } from '@sluice/http';
import { loadPolicyOptions, ContractsModule, Contracts, FileCheck, LedgerModule } from '@sluice/loading';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule, type BootstrapOptions } from '@sluice/observability';
import { ReplayModule } from '@sluice/replay';
import { DiskSpaceModule, StorageModule } from '@sluice/storage';
import { DataSource } from 'typeorm';
import { BodyBudget } from './body-budget';
import { CheckController } from './check.controller';
import { IdempotencyExpiry } from './idempotency-expiry.service';
import { IdempotencyRepository } from './idempotency.repository';
import { IngestApiJobs } from './ingest-api.jobs';
import { IngestCommitter } from './ingest-committer.service';
import { IngestController } from './ingest.controller';
import { IngestMetrics } from './ingest.metrics';
import { IngestService } from './ingest.service';
import { IngestRateLimitGuard } from './rate-limit.guard';
import { TempSweeper } from './temp-sweeper.service';
import { UploadCheck } from './upload-check.service';

/**
 * How main.ts (and tests) start the ingest API: OpenAPI at /docs, and Express's body parsers off, because
 * the ingest endpoints read the raw bytes themselves (stored byte for byte, uploads streamed).
 */
export const INGEST_API_BOOTSTRAP: Omit<BootstrapOptions, 'port'> = {
  openApi: { title: 'Sluice ingest API', description: 'REST ingestion of JSON documents, NDJSON and files, stored durably before the 202', apiKeyHeader: 'x-api-key' },
  bodyParser: false,
};

const keySettings = (c: IngestApiConfig): ApiKeySettings => ({
  api: 'ingest-api',
  keysVariable: 'INGEST_API_KEYS',
  accepted: c.ingestKeys,
  foreign: c.queryKeys,
  allowAnonymous: c.ALLOW_ANONYMOUS,
});

/** POST /check's dry run: the processor's load policies, as this service's environment sets them (retention as of each check). */
function fileCheck(db: DataSource, contracts: Contracts, config: IngestApiConfig): FileCheck {
  return new FileCheck({
    db,
    contracts,
    schema: config.CONTRACTS_SCHEMA,
    // Read per check: the retention horizons move with the clock.
    get options() {
      return loadPolicyOptions(config);
    },
    decompression: config.decompressionLimits,
  });
}

@Module({})
export class IngestApiModule {
  /**
   * The whole ingest API. `env` defaults to process.env; tests pass their own. Throws a ConfigError (naming
   * the variables) before anything starts when the configuration is bad or has no keys.
   */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: IngestApiModule,
      imports: [
        ConfigModule.forRoot(IngestApiConfig, env),
        // Refuses an API without keys before any other module is set up.
        HttpApiModule.forRoot({ config: IngestApiConfig, env, keys: keySettings }),
        ObservabilityModule.forRoot('ingest-api', { quietRoutes: [{ path: 'ingest', method: RequestMethod.POST }] }),
        DbModule.forRoot({ applicationName: 'sluice-ingest-api' }),
        // Payloads are durable in PostgreSQL before NATS hears of them, and the watcher requeues what was not
        // announced: an outage of NATS must not take the ingest-api out of a load balancer's rotation.
        MessagingModule.forRoot('sluice-ingest-api', { requiredForReadiness: false }),
        StorageModule.forRoot(),
        // Large bodies and uploads are written to the drop folder: refused (503) while it has less than MIN_FREE_DISK free.
        DiskSpaceModule.forRoot({ app: 'ingest-api', pauses: 'uploads and bodies over INGEST_INLINE_MAX_BYTES' }),
        LedgerModule,
        ReplayModule,
        // The data contracts in force, for POST /check (the processor loads by the same folder).
        ContractsModule,
      ],
      controllers: [IngestController, CheckController],
      providers: [
        IdempotencyRepository,
        IdempotencyExpiry,
        IngestMetrics,
        BodyBudget,
        IngestCommitter,
        IngestService,
        IngestRateLimitGuard,
        TempSweeper,
        IngestApiJobs,
        { provide: FileCheck, inject: [DataSource, Contracts, IngestApiConfig], useFactory: fileCheck },
        UploadCheck,
      ],
    };
  }
}
