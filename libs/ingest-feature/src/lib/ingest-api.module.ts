import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, IngestApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';

/** REST ingestion. Today: health, metrics and OpenAPI; the ingestion endpoints come next. */
@Module({})
export class IngestApiModule {
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: IngestApiModule,
      imports: [
        ConfigModule.forRoot(IngestApiConfig, env),
        ObservabilityModule.forRoot('ingest-api'),
        DbModule.forRoot({ applicationName: 'sluice-ingest-api' }),
        MessagingModule.forRoot('sluice-ingest-api'),
      ],
    };
  }
}
