import 'reflect-metadata';
import { IngestApiConfig } from '@sluice/config';
import { IngestApiModule } from '@sluice/ingest-feature';
import { bootstrapService } from '@sluice/observability';

void bootstrapService(() => IngestApiModule.forRoot(), {
  port: (app) => app.get(IngestApiConfig).INGEST_API_PORT,
  openApi: { title: 'Sluice ingest API', description: 'REST ingestion of JSON documents, NDJSON and files', apiKeyHeader: 'x-api-key' },
});
