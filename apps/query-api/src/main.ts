import 'reflect-metadata';
import { ConfigError, QueryApiConfig } from '@sluice/config';
import { bootstrapService } from '@sluice/observability';
import { QUERY_API_OPENAPI, QueryApiModule } from '@sluice/query-feature';

function rootModule() {
  try {
    return QueryApiModule.forRoot();
  } catch (e) {
    // Configuration is checked before Nest starts: print what is wrong, without a stack trace.
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

void bootstrapService(rootModule(), {
  port: (app) => app.get(QueryApiConfig).QUERY_API_PORT,
  openApi: QUERY_API_OPENAPI,
});
