import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { JetStreamService } from '@sluice/messaging';
import { bootstrapService } from '@sluice/observability';
import { createTestDatabase, freePort, SHARED_NATS_URL, testNamespace, type TestDatabase } from '@sluice/testing';
import { IngestApiModule } from './ingest-api.module';

describe('ingest-api', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase('ingestapi');
    const port = await freePort();
    const env = { DATABASE_URL: db.url, NATS_URL: SHARED_NATS_URL, NATS_NAMESPACE: testNamespace('ingest'), INGEST_API_PORT: String(port), INGEST_API_KEYS: 'k', LOG_LEVEL: 'silent' };
    app = await bootstrapService(() => IngestApiModule.forRoot(env), { port: (a) => a.get(IngestApiConfig).INGEST_API_PORT, openApi: { title: 'Sluice ingest API', description: 'spec' } });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app?.get(JetStreamService).jsm.streams.delete(app.get(JetStreamService).stream).catch(() => undefined);
    await app?.close();
    await db?.drop();
  });

  it('boots with its database and NATS ready, and serves docs', async () => {
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { database: { status: 'up' }, nats: { status: 'up' } } });
    expect((await fetch(`${base}/docs-json`)).status).toBe(200);
  });
});
