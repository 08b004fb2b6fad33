import { type DynamicModule, Logger, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, Reflector } from '@nestjs/core';
import { ConfigError, ConfigModule, loadConfig, QueryApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { ApiKeyGuard, DEFAULT_OPEN_PATHS } from './auth/api-key.guard';
import { FilesModule } from './files/files.module';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { HttpMetricsMiddleware } from './http/http-metrics.middleware';
import { createValidationPipe } from './http/validation';
import { SensorsModule } from './sensors/sensors.module';

/** OpenAPI settings of the query API (used by main.ts and by tests that boot it the same way). */
export const QUERY_API_OPENAPI = {
  title: 'Sluice query API',
  description: 'Readings, aggregates, files and live pipeline state',
  apiKeyHeader: 'x-api-key',
};

/** A query API without keys serves everyone; that must be a deliberate choice (SPEC §6.1). */
export function assertApiKeysConfigured(config: QueryApiConfig): void {
  if (config.queryKeys.length === 0 && !config.ALLOW_ANONYMOUS) {
    throw new ConfigError([
      'QUERY_API_KEYS (unset): no API key configured; set QUERY_API_KEYS=key1,key2 or, for local experiments only, ALLOW_ANONYMOUS=true',
    ]);
  }
}

@Module({})
export class QueryApiModule implements NestModule {
  /**
   * The whole query API. `env` defaults to process.env; tests pass their own. Throws a ConfigError
   * (naming the variables) before anything starts when the configuration is bad or has no keys.
   */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    assertApiKeysConfigured(loadConfig(QueryApiConfig, env));
    return {
      module: QueryApiModule,
      imports: [
        ConfigModule.forRoot(QueryApiConfig, env),
        ObservabilityModule.forRoot('query-api'),
        DbModule.forRoot({ applicationName: 'sluice-query-api' }),
        MessagingModule.forRoot('sluice-query-api'),
        SensorsModule,
        FilesModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        {
          provide: APP_GUARD,
          inject: [Reflector, QueryApiConfig],
          useFactory: (reflector: Reflector, config: QueryApiConfig) => {
            const anonymous = config.queryKeys.length === 0 && config.ALLOW_ANONYMOUS;
            if (anonymous) new Logger('QueryApi').warn('ALLOW_ANONYMOUS=true and no QUERY_API_KEYS: every request is served without a key');
            return new ApiKeyGuard(reflector, { acceptedKeys: config.queryKeys, foreignKeys: config.ingestKeys, anonymous, openPaths: DEFAULT_OPEN_PATHS });
          },
        },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
