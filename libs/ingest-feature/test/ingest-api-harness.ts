import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { JetStreamService } from '@sluice/messaging';
import { bootstrapService } from '@sluice/observability';
import { freePort, SHARED_NATS_URL, testNamespace, type TestDatabase } from '@sluice/testing';
import { INGEST_API_BOOTSTRAP, IngestApiModule } from '../src/lib/ingest-api.module';

/** The API key the harness's ingest-api accepts. */
export const INGEST_KEY = 'ingest-key';
/** Bodies up to this size are kept in ingest_payloads; larger ones go to processing/ (small, so tests reach both). */
export const INLINE_MAX = 4096;

/**
 * An ingest-api in this process on a free port, against a test database, a NATS namespace of its own and the
 * drop folder `dir`; small body limits, so the tests reach them. `settings` override any variable.
 */
export async function startIngestApi(db: TestDatabase, dir: string, settings: Record<string, string> = {}): Promise<{ app: INestApplication; base: string }> {
  const port = await freePort();
  const env = {
    DATABASE_URL: db.url,
    NATS_URL: SHARED_NATS_URL,
    NATS_NAMESPACE: testNamespace('ingest'),
    INGEST_API_PORT: String(port),
    INGEST_API_KEYS: INGEST_KEY,
    DROPZONE_DIR: dir,
    MAX_INGEST_BODY_BYTES: String(64 * 1024),
    MAX_UPLOAD_BYTES: String(1024 * 1024),
    INGEST_INLINE_MAX_BYTES: String(INLINE_MAX),
    LOG_LEVEL: 'silent',
    ...settings,
  };
  const app = await bootstrapService(() => IngestApiModule.forRoot(env), { ...INGEST_API_BOOTSTRAP, port: (a) => a.get(IngestApiConfig).INGEST_API_PORT });
  return { app, base: `http://127.0.0.1:${port}` };
}

/** Closes the app and deletes its namespace's stream. */
export async function stopIngestApi(app: INestApplication | undefined): Promise<void> {
  if (!app) return;
  await app.get(JetStreamService).jsm.streams.delete(app.get(JetStreamService).stream).catch(() => undefined);
  await app.close();
}
