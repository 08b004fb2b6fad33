import 'reflect-metadata';
import { QueryApiConfig } from '@sluice/config';
import { runService } from '@sluice/observability';
import { QUERY_API_OPENAPI, QueryApiModule } from '@sluice/query-feature';

void runService('query-api', () => QueryApiModule.forRoot(), {
  port: (app) => app.get(QueryApiConfig).QUERY_API_PORT,
  portVariable: 'QUERY_API_PORT',
  openApi: QUERY_API_OPENAPI,
  // Responses are fresh query results: hashing every page (often 100+ KB) for an ETag costs more than a
  // conditional request could save.
  configure: (app) => (app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void }).set('etag', false),
});
