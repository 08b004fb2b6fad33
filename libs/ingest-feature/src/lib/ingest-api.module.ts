import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { ConfigModule, IngestApiConfig, loadConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { apiProviders, assertApiKeysConfigured, HttpMetricsMiddleware, type ApiKeySettings } from '@sluice/http';
import { LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule, type BootstrapOptions } from '@sluice/observability';
import { ReplayService } from '@sluice/replay';
import { StorageModule } from '@sluice/storage';
import { BodyBudget } from './body-budget';
import { IdempotencyExpiry } from './idempotency-expiry.service';
import { IdempotencyRepository } from './idempotency.repository';
import { IngestApiJobs } from './ingest-api.jobs';
import { IngestCommitter } from './ingest-committer.service';
import { IngestController } from './ingest.controller';
import { IngestMetrics } from './ingest.metrics';
import { IngestService } from './ingest.service';
import { IngestRateLimitGuard } from './rate-limit.guard';
import { TempSweeper } from './temp-sweeper.service';

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

@Module({})
export class IngestApiModule implements NestModule {
  /**
   * The whole ingest API. `env` defaults to process.env; tests pass their own. Throws a ConfigError (naming
   * the variables) before anything starts when the configuration is bad or has no keys.
   */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    assertApiKeysConfigured(keySettings(loadConfig(IngestApiConfig, env)));
    return {
      module: IngestApiModule,
      imports: [
        ConfigModule.forRoot(IngestApiConfig, env),
        ObservabilityModule.forRoot('ingest-api', { quietRoutes: [{ path: 'ingest', method: RequestMethod.POST }] }),
        DbModule.forRoot({ applicationName: 'sluice-ingest-api' }),
        // Payloads are durable in PostgreSQL before NATS hears of them, and the watcher requeues what was not
        // announced: an outage of NATS must not take the ingest-api out of a load balancer's rotation.
        MessagingModule.forRoot('sluice-ingest-api', { requiredForReadiness: false }),
        StorageModule.forRoot(),
      ],
      controllers: [IngestController],
      providers: [...apiProviders(IngestApiConfig, keySettings), LedgerRepository, LedgerAnnouncer, StoredPayloads, ReplayService, IdempotencyRepository, IdempotencyExpiry, IngestMetrics, BodyBudget, IngestCommitter, IngestService, IngestRateLimitGuard, TempSweeper, IngestApiJobs],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
