import type { INestApplication } from '@nestjs/common';
import { JetStreamServer } from '@sluice/messaging';
import { createTestDatabase, deleteNamespaceStream, generateLongFormat, S3TestServer, SHARED_NATS_URL, startHybridApp, testNamespace, type TestDatabase, TEST_MIN_FREE_DISK } from '@sluice/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { S3SourceWatcher } from './s3-source-watcher.service';
import { WatcherModule } from './watcher.module';

jest.setTimeout(120000);

interface Row {
  id: string;
  source: string;
  original_name: string;
  stored_path: string;
  status: string;
  duplicate_of: string | null;
}

describe('S3 sources in the watcher (real PostgreSQL, NATS and s3rver)', () => {
  let s3: S3TestServer;
  let db: TestDatabase;
  let namespace: string;
  let data: string;
  let app: INestApplication;
  let watcher: S3SourceWatcher;
  let keys: string[];

  const ledger = (): Promise<Row[]> => app.get(DataSource).query(`SELECT id, source, original_name, stored_path, status, duplicate_of FROM ingest_files ORDER BY created_at, id`);

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    db = await createTestDatabase('watcher_s3');
    namespace = testNamespace('watcher_s3');
    data = mkdtempSync(join(tmpdir(), 'sluice-s3-seed-'));
    generateLongFormat(data, { sensors: 5, rows: 2000, files: 4, bad: 0 });
    await s3.createBucket('seed-data');
    await s3.createBucket('other-data');
    keys = await s3.uploadTree('seed-data', data, ['mapping/mapping.csv']);
    const sources = [s3.source('seed-data'), s3.source('gone-bucket'), { ...s3.source('other-data', { name: 'wrong-keys' }), accessKey: 'nobody', secretKey: 'nothing' }, s3.source('other-data')];
    app = await startHybridApp(
      WatcherModule.forRoot({
        DATABASE_URL: db.url,
        NATS_URL: SHARED_NATS_URL,
        NATS_NAMESPACE: namespace,
        DROPZONE_DIR: join(data, 'dropzone'),
        S3_SOURCES: JSON.stringify(sources),
        // Listings are driven by the test (listAll), not by the clock.
        S3_LIST_INTERVAL_MS: '3600000',
        // Small pages, so that every pass spans several listing requests and checkpoints.
        S3_LIST_PAGE_SIZE: '2',
        LOG_LEVEL: 'warn',
        MIN_FREE_DISK: TEST_MIN_FREE_DISK,
      }),
      (a) => a.get(JetStreamServer),
    );
    watcher = app.get(S3SourceWatcher);
  });

  afterAll(async () => {
    await app?.close();
    await deleteNamespaceStream(SHARED_NATS_URL, namespace);
    await db?.drop();
    await s3?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('claims every object once, mapping first, with the source and key in the ledger', async () => {
    await watcher.listAll();
    const rows = await ledger();
    expect(rows.map((r) => r.original_name).sort()).toEqual(keys.map((k) => `s3://seed-data/${k}`).sort());
    expect(rows[0].original_name).toBe('s3://seed-data/mapping/mapping.csv');
    expect(new Set(rows.map((r) => r.source))).toEqual(new Set(['s3']));
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(['queued']));
    expect(rows.every((r) => /^s3\/seed-data\/seed-data\/[0-9a-f]+\//.test(r.stored_path))).toBe(true);
    const [checkpoint] = await app.get(DataSource).query(`SELECT generation, start_after FROM s3_source_checkpoints WHERE source = 'seed-data'`);
    expect(checkpoint).toEqual({ generation: 1, start_after: null });
  });

  it('adds nothing on a second listing', async () => {
    const before = await ledger();
    await watcher.listAll();
    expect(await ledger()).toEqual(before);
  });

  it('claims an overwritten object as a new version, and the same bytes under another key as a duplicate', async () => {
    const before = await ledger();
    await s3.put('seed-data', 'timeseries/part-0001.csv', ';timestamp;sensor_uuid;sensor_value\n0;2020-01-01 00:00:00+00:00;00000000-0000-4000-8000-000000000001;1.5\n');
    await s3.put('seed-data', 'copies/mapping.csv', await (await import('node:fs/promises')).readFile(join(data, 'mapping', 'mapping.csv')));
    await watcher.listAll();
    const added = (await ledger()).slice(before.length);
    const mapping = before.find((r) => r.original_name === 's3://seed-data/mapping/mapping.csv');
    expect(added.map((r) => [r.original_name, r.status, r.duplicate_of])).toEqual(
      expect.arrayContaining([
        ['s3://seed-data/timeseries/part-0001.csv', 'queued', null],
        ['s3://seed-data/copies/mapping.csv', 'duplicate', mapping?.id],
      ]),
    );
    expect(added).toHaveLength(2);
  });

  it('resumes a pass from its checkpoint: keys after it now, keys before it on the next pass', async () => {
    const db = app.get(DataSource);
    const [{ generation }] = await db.query(`SELECT generation FROM s3_source_checkpoints WHERE source = 'seed-data'`);
    // As if the watcher had stopped in the middle of a pass.
    await db.query(`UPDATE s3_source_checkpoints SET start_after = 'timeseries/part-0002.csv' WHERE source = 'seed-data'`);
    await s3.put('seed-data', 'a-before.csv', 'sensor_uuid;sensor_name\n00000000-0000-4000-8000-00000000000a;before\n');
    await s3.put('seed-data', 'zz-after.csv', 'sensor_uuid;sensor_name\n00000000-0000-4000-8000-00000000000b;after\n');
    const names = async () => (await ledger()).map((r) => r.original_name);
    await watcher.listAll();
    expect(await names()).toContain('s3://seed-data/zz-after.csv');
    expect(await names()).not.toContain('s3://seed-data/a-before.csv');
    expect(await db.query(`SELECT generation, start_after FROM s3_source_checkpoints WHERE source = 'seed-data'`)).toEqual([{ generation: generation + 1, start_after: null }]);
    await watcher.listAll();
    expect(await names()).toContain('s3://seed-data/a-before.csv');
  });

  it('reports a missing bucket and refused credentials once each, and keeps serving the other sources', async () => {
    expect(watcher.problemOf('gone-bucket')).toMatch(/source "gone-bucket" \(bucket "gone-bucket" at http:\/\/127\.0\.0\.1:\d+\): the bucket does not exist/);
    expect(watcher.problemOf('wrong-keys')).toMatch(/source "wrong-keys" .*: the credentials were refused \(InvalidAccessKeyId\)/);
    expect(watcher.problemOf('seed-data')).toBeNull();
    await s3.put('other-data', 'fresh.csv', 'sensor_uuid;sensor_name\n00000000-0000-4000-8000-000000000009;sensor_other\n');
    await watcher.listAll();
    expect((await ledger()).filter((r) => r.original_name === 's3://other-data/fresh.csv')).toHaveLength(1);
    expect(watcher.problemOf('other-data')).toBeNull();

    // The bucket of a working source is deleted: it turns into one clear error too.
    await s3.deleteBucket('other-data');
    await watcher.listAll();
    expect(watcher.problemOf('other-data')).toMatch(/the bucket does not exist/);
    expect(watcher.problemOf('seed-data')).toBeNull();
  });
});
