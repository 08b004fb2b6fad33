import './threadpool';
import 'reflect-metadata';
import { IngestApiConfig } from '@sluice/config';
import { INGEST_API_BOOTSTRAP, IngestApiModule } from '@sluice/ingest-feature';
import { runService } from '@sluice/observability';

void runService('ingest-api', () => IngestApiModule.forRoot(), { ...INGEST_API_BOOTSTRAP, port: (app) => app.get(IngestApiConfig).INGEST_API_PORT, portVariable: 'INGEST_API_PORT' });
