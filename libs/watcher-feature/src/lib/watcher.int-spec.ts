import type { INestApplication } from '@nestjs/common';
import { BatchSubjects, FileSubjects, fullSubject, type FileLifecycleEvent, type FileSubject } from '@sluice/contracts';
import { FiledFilesRetention, LedgerRepository } from '@sluice/loading';
import { JetStreamServer, JetStreamService } from '@sluice/messaging';
import { createTestDatabase, deleteNamespaceStream, SHARED_NATS_URL, startHybridApp, testNamespace, waitFor, type TestDatabase, TEST_MIN_FREE_DISK } from '@sluice/testing';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import { WatcherModule } from './watcher.module';

jest.setTimeout(60000);

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LedgerRow {
  id: string;
  source: string;
  original_name: string;
  stored_path: string;
  sha256: string;
  size_bytes: string;
  status: string;
  duplicate_of: string | null;
  created_at: Date;
}

describe('WatcherModule (real PostgreSQL and NATS)', () => {
  const STABILITY_WINDOW_MS = 1200;
  let db: TestDatabase;
  let namespace: string;
  let tmp: string;
  let dir: string;
  let app: INestApplication | undefined;

  const boot = async () => {
    app = await startHybridApp(
      WatcherModule.forRoot({
        DATABASE_URL: db.url,
        NATS_URL: SHARED_NATS_URL,
        NATS_NAMESPACE: namespace,
        DROPZONE_DIR: dir,
        STABILITY_WINDOW_MS: String(STABILITY_WINDOW_MS),
        RESCAN_INTERVAL_MS: '1000',
        REQUEUE_AFTER_MS: '60000',
        LOG_LEVEL: 'warn',
        MIN_FREE_DISK: TEST_MIN_FREE_DISK,
      }),
      (a) => a.get(JetStreamServer),
    );
  };
  const ctx = () => {
    if (!app) throw new Error('app not started');
    return app;
  };
  const rows = async (where: string, params: unknown[]): Promise<LedgerRow[]> => ctx().get(DataSource).query(`SELECT * FROM ingest_files WHERE ${where}`, params);
  const rowNamed = (name: string) => waitFor(`ledger row for ${name}`, async () => (await rows('original_name = $1', [name]))[0]);

  /** Every message on one subject of our namespace, oldest first. */
  const messages = async <T>(subject: FileSubject): Promise<T[]> => {
    const js = ctx().get(JetStreamService);
    const info = await js.jsm.streams.info(js.stream);
    const out: T[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await js.jsm.streams.getMessage(js.stream, { seq });
      if (m?.subject === fullSubject(namespace, subject)) out.push(m.json<T>());
    }
    return out;
  };
  const queuedIds = async () => (await messages<{ fileId: string }>(FileSubjects.queued)).map((m) => m.fileId);

  /** Writes beside incoming/, waits past one timestamp tick, renames into place (as careful writers do). */
  const renameIn = async (rel: string, content: string) => {
    const staged = join(dir, `stage-${randomUUID()}`);
    writeFileSync(staged, content);
    await sleep(50);
    mkdirSync(join(dir, 'incoming', rel, '..'), { recursive: true });
    renameSync(staged, join(dir, 'incoming', rel));
  };

  beforeAll(async () => {
    db = await createTestDatabase('watcher');
    namespace = testNamespace('watcher');
    tmp = mkdtempSync(join(tmpdir(), 'sluice-watcher-'));
    dir = join(tmp, 'drop');
    mkdirSync(join(tmp, 'outside'));
    await boot();
  });

  afterAll(async () => {
    await app?.close();
    await deleteNamespaceStream(SHARED_NATS_URL, namespace);
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const first = { name: 'sub/readings.csv', content: 'ts,device,temp\n1,a,20\n', id: '' };
  const growing = { name: 'growing.csv', content: '', id: '' };

  it('claims a renamed-in file, registers it and publishes its id', async () => {
    await renameIn(first.name, first.content);
    const row = await rowNamed(first.name);
    first.id = row.id;
    expect(row).toMatchObject({ source: 'dropzone', status: 'queued', sha256: sha(first.content), size_bytes: String(first.content.length) });
    expect(row.stored_path).toBe(`processing/${row.id}__readings.csv`);
    expect(readFileSync(join(dir, row.stored_path), 'utf8')).toBe(first.content);
    expect(existsSync(join(dir, 'incoming', first.name))).toBe(false);
    await waitFor('queued message', async () => (await queuedIds()).includes(row.id));
  });

  it('moves the same content dropped again to processed/ as a duplicate without queueing it', async () => {
    await renameIn('again.csv', first.content);
    const row = await waitFor('duplicate moved', async () => (await rows(`original_name = 'again.csv' AND stored_path = 'processed/again.csv'`, []))[0]);
    expect(row).toMatchObject({ status: 'duplicate', duplicate_of: first.id });
    expect(readFileSync(join(dir, 'processed/again.csv'), 'utf8')).toBe(first.content);
    expect(readdirSync(join(dir, 'processing')).some((n) => n.startsWith(row.id))).toBe(false);
    const events = await waitFor('duplicate event', async () => {
      const found = (await messages<FileLifecycleEvent>(FileSubjects.duplicate)).filter((e) => e.fileId === row.id);
      return found.length > 0 && found;
    });
    expect(events).toEqual([expect.objectContaining({ status: 'duplicate', duplicateOf: first.id, originalName: 'again.csv' })]);
    expect(await queuedIds()).toEqual([first.id]);
  });

  it('ignores partial and hidden files and quarantines a symlink without reading it', async () => {
    const secret = join(tmp, 'outside', 'secret.csv');
    writeFileSync(secret, 'never to be read');
    writeFileSync(join(dir, 'incoming', 'upload.csv.part'), 'partial');
    writeFileSync(join(dir, 'incoming', '.hidden.csv'), 'hidden');
    mkdirSync(join(dir, 'incoming', '.staging'));
    writeFileSync(join(dir, 'incoming', '.staging', 'x.csv'), 'staged');
    symlinkSync(secret, join(dir, 'incoming', 'link.csv'));
    execFileSync('mkfifo', [join(dir, 'incoming', 'pipe.csv')]);

    await waitFor('symlink quarantined', async () => existsSync(join(dir, 'quarantine', 'link.csv.error.json')));
    expect(lstatSync(join(dir, 'quarantine', 'link.csv')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'quarantine', 'link.csv.error.json'), 'utf8'))).toMatchObject({ rule: 'not_regular_file', type: 'symlink' });
    await waitFor('FIFO quarantined', async () => existsSync(join(dir, 'quarantine', 'pipe.csv.error.json')));
    expect(lstatSync(join(dir, 'quarantine', 'pipe.csv')).isFIFO()).toBe(true);

    await sleep(STABILITY_WINDOW_MS + 1500); // past the window and at least one full rescan
    for (const rel of ['upload.csv.part', '.hidden.csv', '.staging/x.csv']) expect(existsSync(join(dir, 'incoming', rel))).toBe(true);
    expect(await rows(`original_name IN ('upload.csv.part', '.hidden.csv', '.staging/x.csv', 'link.csv', 'pipe.csv') OR sha256 = $1`, [sha('never to be read')])).toEqual([]);
    expect(readFileSync(secret, 'utf8')).toBe('never to be read');
  });

  it('never claims a file while it is being appended to, and hashes the whole of it', async () => {
    const path = join(dir, 'incoming', growing.name);
    const fd = openSync(path, 'a');
    const deadline = Date.now() + 1500;
    let i = 0;
    try {
      while (Date.now() < deadline) {
        const line = `${i++},device,${20 + (i % 5)}\n`;
        writeSync(fd, line);
        growing.content += line;
        await sleep(100);
        expect(existsSync(path)).toBe(true);
        expect(await rows('original_name = $1', [growing.name])).toEqual([]);
      }
    } finally {
      closeSync(fd);
    }
    const stoppedAt = Date.now();
    const row = await rowNamed(growing.name);
    growing.id = row.id;
    expect(new Date(row.created_at).getTime()).toBeGreaterThanOrEqual(stoppedAt - 50);
    expect(row.sha256).toBe(sha(growing.content));
    expect(Number(row.size_bytes)).toBe(Buffer.byteLength(growing.content));
  });

  it('moves a file to processed/ when its row is processed and the outcome is heard', async () => {
    const ledger = ctx().get(LedgerRepository);
    const ds = ctx().get(DataSource);
    await ledger.startAttempt(first.id);
    await ledger.recordOutcome(ds, first.id, { status: 'processed', kind: 'sensor_wide_csv', rowsTotal: 1, rowsLoaded: 1, rowsRejected: 0, rowsWritten: { raw_sensor_data: 1 }, error: null });
    const event: FileLifecycleEvent = { fileId: first.id, status: 'processed', originalName: first.name, at: new Date().toISOString() };
    await ctx().get(JetStreamService).publish(FileSubjects.processed, event, `${first.id}.processed`);
    const row = await waitFor('processed move', async () => (await rows(`id = $1 AND stored_path = 'processed/sub/readings.csv'`, [first.id]))[0]);
    expect(row.status).toBe('processed');
    expect(readFileSync(join(dir, 'processed/sub/readings.csv'), 'utf8')).toBe(first.content);
    expect(readdirSync(join(dir, 'processing')).some((n) => n.startsWith(first.id))).toBe(false);
  });

  it('quarantines with an error.json holding the ledger error and the first row errors', async () => {
    const ledger = ctx().get(LedgerRepository);
    const ds = ctx().get(DataSource);
    await ledger.startAttempt(growing.id);
    for (const line of [4, 2, 3]) {
      await ds.query(`INSERT INTO ingest_errors (file_id, line, "column", rule, message, raw) VALUES ($1, $2, 'temp', 'not_a_number', 'temp is not a number', 'x')`, [growing.id, line]);
    }
    const error = { rule: 'too_many_invalid_rows', message: '3 of 15 rows invalid', line: 2, column: 'temp', value: 'x' };
    await ledger.recordOutcome(ds, growing.id, { status: 'quarantined', kind: 'sensor_wide_csv', rowsTotal: 15, rowsLoaded: 0, rowsRejected: 3, rowsWritten: {}, error });
    const event: FileLifecycleEvent = { fileId: growing.id, status: 'quarantined', originalName: growing.name, at: new Date().toISOString() };
    await ctx().get(JetStreamService).publish(FileSubjects.quarantined, event, `${growing.id}.quarantined`);

    await waitFor('quarantine move', async () => (await rows(`id = $1 AND stored_path = 'quarantine/growing.csv'`, [growing.id]))[0]);
    expect(readFileSync(join(dir, 'quarantine/growing.csv'), 'utf8')).toBe(growing.content);
    const report = JSON.parse(readFileSync(join(dir, 'quarantine/growing.csv.error.json'), 'utf8'));
    expect(report).toMatchObject({ fileId: growing.id, status: 'quarantined', error, rowsTotal: 15, rowsRejected: 3 });
    expect(report.rowErrors.map((r: { line: number }) => r.line)).toEqual([2, 3, 4]);
    expect(report.rowErrors[0]).toMatchObject({ column: 'temp', rule: 'not_a_number', message: 'temp is not a number' });
  });

  it('retention removes the filed files (with the error.json) and marks their rows; the same bytes dropped again are still a duplicate', async () => {
    const ds = ctx().get(DataSource);
    // Both finished long ago; the horizon is a year back.
    await ds.query(`UPDATE ingest_files SET finished_at = finished_at - interval '400 days' WHERE id = ANY($1::uuid[])`, [[first.id, growing.id]]);
    const horizon = new Date(Date.now() - 365 * 86400_000);
    const retention = ctx().get(FiledFilesRetention);
    expect(await retention.sweepProcessed(horizon)).toMatchObject({ items: 1, bytes: Buffer.byteLength(first.content), examples: [first.name] });
    expect(await retention.sweepQuarantine(horizon)).toMatchObject({ items: 1, examples: [growing.name] });
    for (const p of ['processed/sub/readings.csv', 'quarantine/growing.csv', 'quarantine/growing.csv.error.json']) expect(existsSync(join(dir, p))).toBe(false);
    expect(existsSync(join(dir, 'processed/again.csv'))).toBe(true);
    const expired = await rows('id = ANY($1::uuid[]) AND expired_at IS NOT NULL', [[first.id, growing.id]]);
    expect(expired).toHaveLength(2);

    await renameIn('after-expiry.csv', first.content);
    const row = await waitFor('re-drop moved as a duplicate', async () => (await rows(`original_name = 'after-expiry.csv' AND stored_path = 'processed/after-expiry.csv'`, []))[0]);
    expect(row).toMatchObject({ status: 'duplicate', duplicate_of: first.id });
    expect((await rows('id = $1', [first.id]))[0]).toMatchObject({ status: 'processed', stored_path: 'processed/sub/readings.csv' });
  });

  it('counts what it did in the default Prometheus registry', async () => {
    const value = async (name: string) => (await register.getSingleMetric(name)?.get())?.values.reduce((s, v) => s + v.value, 0) ?? 0;
    expect(await value('sluice_watcher_files_claimed_total')).toBeGreaterThanOrEqual(3);
    expect(await value('sluice_watcher_duplicates_total')).toBeGreaterThanOrEqual(1);
    expect(await value('sluice_watcher_files_moved_total')).toBeGreaterThanOrEqual(3);
  });

  it('a file claimed while its writer still holds it open is registered only once closed, with everything written', async () => {
    const path = join(dir, 'incoming', 'slow-writer.csv');
    const fd = openSync(path, 'a');
    let content = '';
    const append = (line: string) => {
      writeSync(fd, line);
      content += line;
    };
    try {
      append('ts,device,temp\n');
      append('0,slow,20\n');
      // The writer pauses longer than the window: the watcher claims the file under it.
      await waitFor('claimed from incoming/', async () => !existsSync(path));
      for (let i = 1; i <= 5; i++) {
        append(`${i},slow,${20 + i}\n`);
        await sleep(300);
        expect(await rows('original_name = $1', ['slow-writer.csv'])).toEqual([]);
      }
    } finally {
      closeSync(fd);
    }
    const row = await rowNamed('slow-writer.csv');
    expect(row).toMatchObject({ status: 'queued', sha256: sha(content), size_bytes: String(content.length) });
    expect(readFileSync(join(dir, row.stored_path), 'utf8')).toBe(content);
    expect(await rows(`original_name LIKE 'slow-writer%'`, [])).toHaveLength(1);
  });

  it('stores a hard-linked file as a private copy: its other name cannot change what is loaded', async () => {
    const other = join(tmp, 'outside', 'linked.csv');
    const original = 'ts,device,temp\n1,linked,20\n';
    writeFileSync(other, original);
    linkSync(other, join(dir, 'incoming', 'linked.csv'));
    const row = await rowNamed('linked.csv');
    expect(row).toMatchObject({ sha256: sha(original) });
    writeFileSync(other, 'ts,device,temp\n1,linked,99\n');
    const stored = await waitFor('stored file', async () => (await rows('id = $1', [row.id]))[0].stored_path);
    expect(readFileSync(join(dir, stored), 'utf8')).toBe(original);
    expect(lstatSync(join(dir, stored)).nlink).toBe(1);
  });

  it('makes files nested deeper than the walk goes visible: a warning and sluice_watcher_unclaimable_total', async () => {
    const value = async () => (await register.getSingleMetric('sluice_watcher_unclaimable_total')?.get())?.values.find((v) => v.labels['reason'] === 'too_deep')?.value ?? 0;
    const deep = Array.from({ length: 34 }, (_, i) => `level${i}`).join('/');
    mkdirSync(join(dir, 'incoming', deep), { recursive: true });
    writeFileSync(join(dir, 'incoming', deep, 'lost.csv'), 'ts,device,temp\n1,deep,20\n');
    await waitFor('too_deep counted', async () => (await value()) >= 1);
    expect(await rows('original_name LIKE $1', ['%lost.csv'])).toEqual([]);
    rmSync(join(dir, 'incoming', 'level0'), { recursive: true, force: true });
  });

  it('after a restart, registers and publishes a file left in processing/ without a ledger row', async () => {
    await ctx().close();
    app = undefined;
    const orphanId = randomUUID();
    writeFileSync(join(dir, 'processing', `${orphanId}__orphan.csv`), 'ts,device,temp\n9,z,1\n');
    await boot();
    const row = await waitFor('orphan registered', async () => (await rows('id = $1', [orphanId]))[0]);
    expect(row).toMatchObject({ source: 'dropzone', status: 'queued', original_name: 'orphan.csv', stored_path: `processing/${orphanId}__orphan.csv`, sha256: sha('ts,device,temp\n9,z,1\n') });
    await waitFor('orphan queued message', async () => (await queuedIds()).includes(orphanId));
    // The earlier files were left where they belong.
    expect(await queuedIds()).toEqual(expect.arrayContaining([first.id, growing.id, orphanId]));
  });

  it('publishes a long backlog of stale rows again in one pass: database-stored payloads in batch messages, files one each', async () => {
    // In one statement (a rescan may come between two): 2,500 API payloads queued ten minutes ago whose
    // publish was lost (more than a page), and three large ones, older still: a batch message names at most
    // MAX_BATCH_BYTES (8 MiB) of bodies.
    const inserted = (await ctx().get(DataSource).query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, updated_at)
       SELECT id, 'api', id || '.json', 'database/' || id, encode(sha256(id::text::bytea), 'hex'),
              CASE WHEN i <= 3 THEN 5 * 1024 * 1024 ELSE 100 END, 'queued', now() - CASE WHEN i <= 3 THEN interval '20 minutes' ELSE interval '10 minutes' END
       FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, 2503) i) g RETURNING id`,
    )) as Array<{ id: string }>;
    const fileId = randomUUID();
    const stalePath = `processing/${fileId}__stale.csv`;
    writeFileSync(join(dir, stalePath), 'ts,device,temp\n8,y,2\n');
    await ctx().get(DataSource).query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, updated_at)
       VALUES ($1, 'dropzone', 'stale.csv', $2, $3, 20, 'queued', now() - interval '10 minutes')`,
      [fileId, stalePath, sha('stale')],
    );
    const requeuedBefore = (await register.getSingleMetricAsString('sluice_watcher_requeued_total')).match(/ (\d+)$/m)?.[1] ?? '0';

    const batchIds = async () => (await messages<{ fileIds: string[] }>(BatchSubjects.queued)).flatMap((m) => m.fileIds);
    const all = inserted.map((p) => p.id);
    await waitFor('every stale payload published again', async () => (await batchIds()).length >= all.length, 20000);
    // Pages of 2,000 rows, oldest first: [large, large, large + 1,997 small], then [503 small].
    const batches = await messages<{ fileIds: string[]; bytes: number }>(BatchSubjects.queued);
    expect(batches.map((b) => b.fileIds.length)).toEqual([1, 1, 1998, 503]);
    expect(batches.map((b) => b.bytes)).toEqual([5 * 1024 * 1024, 5 * 1024 * 1024, 5 * 1024 * 1024 + 199700, 50300]);
    expect((await batchIds()).sort()).toEqual(all.sort());
    await waitFor('the stale file published again', async () => (await queuedIds()).includes(fileId));
    // Touched: the next rescans leave them alone.
    expect(await rows(`id = ANY($1::uuid[]) AND updated_at < now() - interval '1 minute'`, [[...all, fileId]])).toEqual([]);
    await sleep(2500);
    expect(await batchIds()).toHaveLength(all.length);
    expect((await queuedIds()).filter((id) => id === fileId)).toHaveLength(1);
    const requeued = (await register.getSingleMetricAsString('sluice_watcher_requeued_total')).match(/ (\d+)$/m)?.[1];
    expect(Number(requeued) - Number(requeuedBefore)).toBe(all.length + 1);
  });
});
