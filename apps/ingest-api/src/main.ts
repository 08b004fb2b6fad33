import 'reflect-metadata';
import { IngestApiConfig } from '@sluice/config';
import { bootstrapService } from '@sluice/observability';
import { IngestApiModule } from '@sluice/ingest-feature';

void bootstrapService(IngestApiModule, {
  port: (app) => app.get(IngestApiConfig).INGEST_API_PORT,
  openApi: { title: 'Sluice ingest API', description: 'REST ingestion of JSON documents, NDJSON and files', apiKeyHeader: 'x-api-key' },
});
