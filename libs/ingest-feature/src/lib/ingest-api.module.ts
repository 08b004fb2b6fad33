import { Module } from '@nestjs/common';
import { ConfigModule, IngestApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';

@Module({
  imports: [
    ConfigModule.forRoot(IngestApiConfig),
    ObservabilityModule.forRoot('ingest-api'),
    DbModule.forRoot({ applicationName: 'sluice-ingest-api' }),
    MessagingModule.forRoot('sluice-ingest-api'),
  ],
})
export class IngestApiModule {}
