import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { JetStreamService } from '@sluice/messaging';
import { startServiceApi, testNamespace, type ServiceApiEntry, type TestDatabase } from '@sluice/testing';
import { INGEST_API_BOOTSTRAP, IngestApiModule } from '../src/lib/ingest-api.module';

/** The ingest-api as its main.ts boots it, for startServiceApi. */
export const INGEST_API: ServiceApiEntry = { module: (settings) => IngestApiModule.forRoot(settings), portVariable: 'INGEST_API_PORT', bootstrap: INGEST_API_BOOTSTRAP };

/** The API key the harness's ingest-api accepts. */
export const INGEST_KEY = 'ingest-key';
/** Bodies up to this size are kept in ingest_payloads; larger ones go to processing/ (small, so tests reach both). */
export const INLINE_MAX = 4096;

/**
 * An ingest-api in this process on a free port, against a test database, a NATS namespace of its own and the
 * drop folder `dir`; small body limits, so the tests reach them. `settings` override any variable.
 */
export async function startIngestApi(db: TestDatabase, dir: string, settings: Record<string, string> = {}): Promise<{ app: INestApplication; base: string }> {
  const { app, base } = await startServiceApi(INGEST_API, {
    DATABASE_URL: db.url,
    NATS_NAMESPACE: testNamespace('ingest'),
    INGEST_API_KEYS: INGEST_KEY,
    DROPZONE_DIR: dir,
    MAX_INGEST_BODY_BYTES: String(64 * 1024),
    MAX_UPLOAD_BYTES: String(1024 * 1024),
    INGEST_INLINE_MAX_BYTES: String(INLINE_MAX),
    ...settings,
  });
  return { app, base };
}

/** Closes the app and deletes its namespace's stream. */
export async function stopIngestApi(app: INestApplication | undefined): Promise<void> {
  if (!app) return;
  await app.get(JetStreamService).jsm.streams.delete(app.get(JetStreamService).stream).catch(() => undefined);
  await app.close();
}
