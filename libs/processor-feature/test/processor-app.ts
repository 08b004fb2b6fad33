import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { FileSubjects, messageIds, messages, type FileSubject } from '@sluice/contracts';
import { LedgerRepository } from '@sluice/loading';
import { JetStreamServer, JetStreamService } from '@sluice/messaging';
import { DropAreas } from '@sluice/storage';
import { createTestDatabase, SHARED_NATS_URL, startHybridApp, testNamespace, type TestDatabase } from '@sluice/testing';
import { Pool } from 'pg';
import { ProcessorModule } from '../src/lib/processor.module';

/** A processor app on a database, NATS namespace and drop folder of its own, for integration specs. */
export interface ProcessorTestApp {
  db: TestDatabase;
  pool: Pool;
  app: INestApplication;
  js: JetStreamService;
  dropzone: string;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Does what the watcher does after a claim: the file in processing/, a ledger row, a queued message. */
  enqueue(name: string, content: Buffer): Promise<string>;
  /** The ledger status of a file. */
  statusOf(id: string): Promise<string | undefined>;
  /** Hears a subject the way another service would (a durable consumer), handing each payload to `push`. */
  listen<T>(durable: string, subject: FileSubject, push: (payload: T) => void): Promise<void>;
  close(): Promise<void>;
}

export async function startProcessorApp(label: string, env: Record<string, string> = {}): Promise<ProcessorTestApp> {
  const db = await createTestDatabase(label);
  const pool = new Pool({ connectionString: db.url, max: 2 });
  const dropzone = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  const app = await startHybridApp(
    ProcessorModule.forRoot({
      DATABASE_URL: db.url,
      NATS_URL: SHARED_NATS_URL,
      NATS_NAMESPACE: testNamespace(label),
      DROPZONE_DIR: dropzone,
      ACK_WAIT_MS: '5000',
      MAX_ATTEMPTS: '2',
      LOG_LEVEL: 'warn',
      ...env,
    }),
    (a) => a.get(JetStreamServer),
  );
  const js = app.get(JetStreamService);
  const ledger = app.get(LedgerRepository);
  const query = async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[];
  return {
    db,
    pool,
    app,
    js,
    dropzone,
    query,
    enqueue: async (name: string, content: Buffer) => {
      const id = randomUUID();
      const storedPath = `processing/${id}__${name}`;
      mkdirSync(join(dropzone, 'processing'), { recursive: true });
      writeFileSync(join(dropzone, storedPath), content);
      const digest = await app.get(DropAreas).sha256AndSize(storedPath);
      const { row } = await ledger.register({ id, source: 'dropzone', originalName: name, storedPath, sha256: digest.sha256, sizeBytes: digest.size, compression: digest.compression });
      await js.publish(FileSubjects.queued, messages.queued(row), messageIds.queued(id));
      return id;
    },
    statusOf: async (id: string) => (await query<{ status: string }>('SELECT status FROM ingest_files WHERE id = $1', [id]))[0]?.status,
    listen: async <T>(durable: string, subject: FileSubject, push: (payload: T) => void) => {
      await js.ensureDurableConsumer({ durable, subjects: [subject], ackWaitMs: 5000, maxDeliver: 1 });
      const messages = await (await js.js.consumers.get(js.stream, durable)).consume();
      void (async () => {
        for await (const m of messages) {
          push(m.json<T>());
          m.ack();
        }
      })();
    },
    close: async () => {
      await js.jsm.streams.delete(js.stream).catch(() => undefined);
      await app.close();
      await pool.end();
      await db.drop();
      rmSync(dropzone, { recursive: true, force: true });
    },
  };
}
