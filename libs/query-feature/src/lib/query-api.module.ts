import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, QueryApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { HttpApiModule, QueryEncodingMiddleware, type ApiKeySettings } from '@sluice/http';
import { ContractsModule } from '@sluice/loading';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { DashboardModule } from './dashboard/dashboard.module';
import { DatasetsModule } from './datasets/datasets.module';
import { FilesModule } from './files/files.module';
import { LiveModule } from './live/live.module';
import { LogsModule } from './logs/logs.module';
import { MeasurementsModule } from './measurements/measurements.module';
import { SensorsModule } from './sensors/sensors.module';
import { VehiclesModule } from './vehicles/vehicles.module';

/** OpenAPI settings of the query API (used by main.ts and by tests that boot it the same way). */
export const QUERY_API_OPENAPI = {
  title: 'Sluice query API',
  description: 'Readings, aggregates, files, log lines, the datasets of data contracts and live pipeline state',
  apiKeyHeader: 'x-api-key',
};

const keySettings = (c: QueryApiConfig): ApiKeySettings => ({
  api: 'query-api',
  keysVariable: 'QUERY_API_KEYS',
  accepted: c.queryKeys,
  foreign: c.ingestKeys,
  allowAnonymous: c.ALLOW_ANONYMOUS,
});

@Module({})
export class QueryApiModule {
  /**
   * The whole query API. `env` defaults to process.env; tests pass their own. Throws a ConfigError
   * (naming the variables) before anything starts when the configuration is bad or has no keys.
   */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: QueryApiModule,
      imports: [
        ConfigModule.forRoot(QueryApiConfig, env),
        // Refuses an API without keys before any other module is set up.
        HttpApiModule.forRoot({ config: QueryApiConfig, env, keys: keySettings, middleware: [QueryEncodingMiddleware] }),
        ObservabilityModule.forRoot('query-api'),
        DbModule.forRoot({ applicationName: 'sluice-query-api' }),
        MessagingModule.forRoot('sluice-query-api'),
        // The contracts in force (readiness `contracts`, degraded on a broken file): which datasets there are.
        ContractsModule,
        SensorsModule,
        FilesModule,
        MeasurementsModule,
        VehiclesModule,
        LogsModule,
        DatasetsModule,
        LiveModule,
        DashboardModule,
      ],
    };
  }
}
