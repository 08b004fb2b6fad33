import './threadpool';
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { IngestApiConfig } from '@sluice/config';
import { INGEST_API_BOOTSTRAP, IngestApiModule } from '@sluice/ingest-feature';
import { runService } from '@sluice/observability';

// A large POST /ingest body leaves tens of MB of garbage in the old generation once it is stored; by default
// V8 lets that grow to several times what survived the last full GC before collecting. 1.5× keeps the peak
// of concurrent large bodies near what INGEST_BODY_MEMORY_BYTES admits (as in the processor's main.ts).
setFlagsFromString('--heap-growing-percent=50');

void runService('ingest-api', () => IngestApiModule.forRoot(), { ...INGEST_API_BOOTSTRAP, port: (app) => app.get(IngestApiConfig).INGEST_API_PORT, portVariable: 'INGEST_API_PORT' });
