import { Module } from '@nestjs/common';
import { ConfigModule, QueryApiConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';

@Module({
  imports: [
    ConfigModule.forRoot(QueryApiConfig),
    ObservabilityModule.forRoot('query-api'),
    DbModule.forRoot({ applicationName: 'sluice-query-api' }),
    MessagingModule.forRoot('sluice-query-api'),
  ],
})
export class QueryApiModule {}
