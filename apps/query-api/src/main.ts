import 'reflect-metadata';
import { QueryApiConfig } from '@sluice/config';
import { bootstrapService } from '@sluice/observability';
import { QueryApiModule } from '@sluice/query-feature';

void bootstrapService(QueryApiModule, {
  port: (app) => app.get(QueryApiConfig).QUERY_API_PORT,
  openApi: { title: 'Sluice query API', description: 'Readings, aggregates, files and live pipeline state', apiKeyHeader: 'x-api-key' },
});
