import 'reflect-metadata';
import { QueryApiConfig } from '@sluice/config';
import { runService } from '@sluice/observability';
import { QUERY_API_OPENAPI, QueryApiModule } from '@sluice/query-feature';

void runService('query-api', () => QueryApiModule.forRoot(), {
  port: (app) => app.get(QueryApiConfig).QUERY_API_PORT,
  portVariable: 'QUERY_API_PORT',
  openApi: QUERY_API_OPENAPI,
});
