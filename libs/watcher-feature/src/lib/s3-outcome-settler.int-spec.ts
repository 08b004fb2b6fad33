import type { INestApplication } from '@nestjs/common';
import { JetStreamServer } from '@sluice/messaging';
import { createTestDatabase, deleteNamespaceStream, S3TestServer, SHARED_NATS_URL, startHybridApp, testNamespace, type TestDatabase, TEST_MIN_FREE_DISK } from '@sluice/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { OutcomeMover } from './outcome-mover.service';
import { S3SourceWatcher } from './s3-source-watcher.service';
import { WatcherModule } from './watcher.module';

jest.setTimeout(120000);

const BUCKET = 'actions';

describe('after-load actions of S3 sources (real PostgreSQL, NATS and s3rver)', () => {
  let s3: S3TestServer;
  let db: TestDatabase;
  let namespace: string;
  let tmp: string;
  let app: INestApplication;

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> => app.get(DataSource).query(text, params);
  const idOf = async (key: string) => (await sql<{ id: string }>(`SELECT id FROM ingest_files WHERE original_name = $1`, [`s3://${BUCKET}/${key}`]))[0]?.id;
  /** What a processor's commit does to the ledger row. */
  const finish = (id: string, status: string) =>
    sql(`UPDATE ingest_files SET status = $2, error = $3, finished_at = now() WHERE id = $1`, [id, status, status === 'quarantined' ? { rule: 'empty_file', message: 'the file is empty' } : null]);
  const text = (key: string) => s3.text(BUCKET, key);

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    db = await createTestDatabase('watcher_s3_actions');
    namespace = testNamespace('watcher_s3_actions');
    tmp = mkdtempSync(join(tmpdir(), 'sluice-s3-actions-'));
    await s3.createBucket(BUCKET);
    for (const key of ['k/kept.csv', 'k/bad.csv', 'm/moved.csv', 'm/bad.csv', 'd/deleted.csv', 'd/later.csv']) await s3.put(BUCKET, key, `content of ${key}\n`);
    const sources = [
      s3.source(BUCKET, { name: 'keep', prefix: 'k/' }),
      s3.source(BUCKET, { name: 'move', prefix: 'm/', afterLoad: 'move', moveTo: 'loaded/', quarantineTo: 'quarantine/' }),
      s3.source(BUCKET, { name: 'delete', prefix: 'd/', afterLoad: 'delete' }),
    ];
    app = await startHybridApp(
      WatcherModule.forRoot({
        DATABASE_URL: db.url,
        NATS_URL: SHARED_NATS_URL,
        NATS_NAMESPACE: namespace,
        DROPZONE_DIR: join(tmp, 'dropzone'),
        S3_SOURCES: JSON.stringify(sources),
        S3_LIST_INTERVAL_MS: '3600000',
        LOG_LEVEL: 'warn',
        MIN_FREE_DISK: TEST_MIN_FREE_DISK,
      }),
      (a) => a.get(JetStreamServer),
    );
    await app.get(S3SourceWatcher).listAll();
  });

  afterAll(async () => {
    await app?.close();
    await deleteNamespaceStream(SHARED_NATS_URL, namespace);
    await db?.drop();
    await s3?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps a loaded object and writes a quarantined one’s error report beside it', async () => {
    const kept = await idOf('k/kept.csv');
    const bad = await idOf('k/bad.csv');
    await finish(kept, 'processed');
    await finish(bad, 'quarantined');
    expect(await app.get(OutcomeMover).settleById(kept)).toBe('moved');
    expect(await app.get(OutcomeMover).settleById(bad)).toBe('moved');
    expect(await s3.keys(BUCKET)).toEqual(expect.arrayContaining(['k/kept.csv', 'k/bad.csv', 'k/bad.csv.error.json']));
    expect(JSON.parse(await text('k/bad.csv.error.json'))).toMatchObject({ fileId: bad, originalName: `s3://${BUCKET}/k/bad.csv`, status: 'quarantined', error: { rule: 'empty_file' } });
    expect(await sql(`SELECT settled_as FROM s3_objects WHERE file_id = ANY($1) ORDER BY key DESC`, [[kept, bad]])).toEqual([{ settled_as: 'kept' }, { settled_as: 'k/bad.csv.error.json' }]);
  });

  it('moves a loaded object under moveTo and a quarantined one with its report under quarantineTo, and points the ledger there', async () => {
    const moved = await idOf('m/moved.csv');
    const bad = await idOf('m/bad.csv');
    await finish(moved, 'processed');
    await finish(bad, 'quarantined');
    await app.get(OutcomeMover).settleById(moved);
    await app.get(OutcomeMover).settleById(bad);
    const keys = await s3.keys(BUCKET);
    expect(keys).toEqual(expect.arrayContaining(['loaded/m/moved.csv', 'quarantine/m/bad.csv', 'quarantine/m/bad.csv.error.json']));
    expect(keys).not.toContain('m/moved.csv');
    expect(keys).not.toContain('m/bad.csv');
    expect(await text('loaded/m/moved.csv')).toBe('content of m/moved.csv\n');
    const [row] = await sql<{ stored_path: string }>(`SELECT stored_path FROM ingest_files WHERE id = $1`, [moved]);
    expect(row.stored_path).toMatch(/^s3\/move\/actions\/[0-9a-f]+\/loaded\/m\/moved\.csv$/);
    // Settling again changes nothing.
    expect(await app.get(OutcomeMover).settleById(moved)).toBe('moved');
    expect(await s3.keys(BUCKET)).toEqual(keys);
  });

  it('deletes a loaded object, and settles outcomes it missed on the next listing', async () => {
    const deleted = await idOf('d/deleted.csv');
    await finish(deleted, 'processed');
    await app.get(OutcomeMover).settleById(deleted);
    expect(await s3.keys(BUCKET)).not.toContain('d/deleted.csv');
    // No outcome event for this one: the listing round finds it terminal and unsettled.
    await finish(await idOf('d/later.csv'), 'processed');
    await app.get(S3SourceWatcher).listAll();
    expect(await s3.keys(BUCKET)).not.toContain('d/later.csv');
  });

  it('claims neither error reports nor moved objects when listing again', async () => {
    const before = await sql<{ n: string }>(`SELECT count(*) AS n FROM ingest_files`);
    await app.get(S3SourceWatcher).listAll();
    expect(await sql(`SELECT count(*) AS n FROM ingest_files`)).toEqual(before);
    expect(before[0].n).toBe('6');
  });
});
