import { CommonConfig } from '@sluice/config';
import { FileSubjects, fullSubject } from '@sluice/contracts';
import { createDataSource } from '@sluice/db';
import { databaseStoredPath, FiledFilesRetention, LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';
import { DropClaims, objectStoredPath, OutcomeFiling } from '@sluice/storage';
import { createTestDatabase, SHARED_NATS_URL, testNamespace, type TestDatabase } from '@sluice/testing';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { ReplayException } from './replay.exception';
import { ReplayService } from './replay.service';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe(`${ReplayService.name} (real PostgreSQL and NATS)`, () => {
  let db: TestDatabase;
  let ds: DataSource;
  let js: JetStreamService;
  let dir: string;
  let drop: OutcomeFiling;
  let ledger: LedgerRepository;
  let sut: ReplayService;

  beforeAll(async () => {
    db = await createTestDatabase('replay');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    const config = Object.assign(new CommonConfig(), { NATS_URL: SHARED_NATS_URL, NATS_NAMESPACE: testNamespace('replay') });
    js = new JetStreamService(config);
    await js.connect('replay-int-spec');
    dir = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
    drop = new OutcomeFiling(dir);
    await drop.init();
    ledger = new LedgerRepository(ds);
    sut = new ReplayService(ds, ledger, drop, new LedgerAnnouncer(ledger, js), new StoredPayloads(ds));
  });
  afterAll(async () => {
    await js?.jsm.streams.delete(js.stream).catch(() => undefined);
    await js?.onApplicationShutdown();
    await ds?.destroy();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Queued messages of our namespace as [fileId, msgId]. */
  const queued = async (): Promise<Array<[string, string]>> => {
    const info = await js.jsm.streams.info(js.stream);
    const out: Array<[string, string]> = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await js.jsm.streams.getMessage(js.stream, { seq }).catch(() => null);
      if (m?.subject === fullSubject(js.namespace, FileSubjects.queued)) out.push([m.json<{ fileId: string }>().fileId, m.header.get('Nats-Msg-Id')]);
    }
    return out;
  };

  /** A file that went through the pipeline and ended in `status`, its bytes where the watcher puts them. */
  const finishedFile = async (status: 'processed' | 'quarantined' | 'failed' | 'duplicate', content = `{"time_stamp":"2019-05-01T06:00:00-04:00","data":[${Math.random()}]}`) => {
    const id = randomUUID();
    const name = `f-${id.slice(0, 8)}.json`;
    writeFileSync(join(dir, 'incoming', name), content);
    const claimed = await new DropClaims(dir).claim(name, id);
    await ledger.register({ id, source: 'dropzone', originalName: name, storedPath: claimed!.storedPath, sha256: sha(content), sizeBytes: content.length });
    await ds.query(`UPDATE ingest_files SET status = $2, attempts = 3, rows_total = 1, rows_rejected = 1, error = '{"rule":"x","message":"bad"}', finished_at = now() WHERE id = $1`, [id, status]);
    await ds.query(`INSERT INTO ingest_errors (file_id, line, rule, message) VALUES ($1, 1, 'x', 'bad')`, [id]);
    const target = status === 'processed' || status === 'duplicate' ? 'processed' : 'quarantine';
    const storedPath = await drop.fileOutcome(claimed!.storedPath, target, name, target === 'quarantine' ? { rule: 'x' } : undefined);
    await ledger.setStoredPath(id, storedPath);
    return { id, name, content, storedPath };
  };

  it('replays a quarantined file: bytes back in processing/, row queued afresh, errors cleared, published once', async () => {
    const f = await finishedFile('quarantined');
    expect(existsSync(join(dir, `${f.storedPath}.error.json`))).toBe(true);

    const row = await sut.replay(f.id);

    expect(row).toMatchObject({ id: f.id, status: 'queued', attempts: 0, replays: 1, error: null, storedPath: `processing/${f.id}__${f.name}` });
    expect(Number(row.rowsRejected)).toBe(0);
    expect(readFileSync(join(dir, row.storedPath), 'utf8')).toBe(f.content);
    expect(existsSync(join(dir, f.storedPath))).toBe(false);
    expect(existsSync(join(dir, `${f.storedPath}.error.json`))).toBe(false);
    expect(await ds.query(`SELECT * FROM ingest_errors WHERE file_id = $1`, [f.id])).toEqual([]);
    expect((await queued()).filter(([id]) => id === f.id)).toEqual([[f.id, `${f.id}.replay.1`]]);
  });

  it('answers the row it queued, even when a processor claims it the moment the message is out', async () => {
    const f = await finishedFile('processed');
    // A processor as fast as can be: the row is claimed as soon as the publish returns, before the replay answers.
    const eager = Object.create(js) as JetStreamService;
    eager.publish = async (...args: Parameters<JetStreamService['publish']>) => {
      await js.publish(...args);
      await ds.query(`UPDATE ingest_files SET status = 'processing', attempts = 1 WHERE id = $1`, [f.id]);
    };
    const racing = new ReplayService(ds, ledger, drop, new LedgerAnnouncer(ledger, eager), new StoredPayloads(ds));

    const row = await racing.replay(f.id);

    expect(row).toMatchObject({ id: f.id, status: 'queued', attempts: 0, replays: 1 });
    expect((await ledger.get(f.id))?.status).toBe('processing');
  });

  it('refuses a row that is not terminal, a duplicate and an unknown id', async () => {
    const f = await finishedFile('quarantined');
    await sut.replay(f.id);
    await expect(sut.replay(f.id)).rejects.toMatchObject({ code: 'not_replayable' });
    const d = await finishedFile('duplicate');
    await expect(sut.replay(d.id)).rejects.toMatchObject({ code: 'not_replayable', message: expect.stringContaining('duplicate') });
    await expect(sut.replay(randomUUID())).rejects.toBeInstanceOf(ReplayException);
  });

  it('replays a processed file again and again with a new msg id each time', async () => {
    const f = await finishedFile('processed');
    await sut.replay(f.id);
    // The pipeline finishes it again and the watcher moves it back to processed/.
    await ds.query(`UPDATE ingest_files SET status = 'processed', finished_at = now() WHERE id = $1`, [f.id]);
    const moved = await drop.fileOutcome((await ledger.get(f.id))!.storedPath, 'processed', f.name);
    await ledger.setStoredPath(f.id, moved);
    const second = await sut.replay(f.id);
    expect(second.replays).toBe(2);
    expect((await queued()).filter(([id]) => id === f.id).map(([, m]) => m)).toEqual([`${f.id}.replay.1`, `${f.id}.replay.2`]);
  });

  it('refuses to replay content that is live as another file', async () => {
    const content = `{"time_stamp":"2020-01-01T00:00:00Z","data":[1]}`;
    const bad = await finishedFile('quarantined', content);
    const live = randomUUID();
    await ledger.register({ id: live, source: 'api', originalName: 'x.json', storedPath: `processing/${live}__x.json`, sha256: sha(content), sizeBytes: content.length });
    await expect(sut.replay(bad.id)).rejects.toMatchObject({ code: 'content_live', details: { liveFileId: live } });
    expect((await ledger.get(bad.id))!.status).toBe('quarantined');
  });

  it('records the content it replays: a file that grew after its claim is hashed again, and content live elsewhere is still refused', async () => {
    const f = await finishedFile('quarantined', '{"time_stamp":"2019-05-01T06:00:00-04:00","data":[1]}');
    // A writer that kept its descriptor finished the file after it was quarantined changed_after_claim.
    const complete = '{"time_stamp":"2019-05-01T06:00:00-04:00","data":[1,2,3]}';
    writeFileSync(join(dir, f.storedPath), complete);
    const row = await sut.replay(f.id);
    expect({ sha256: row.sha256.trim(), size: Number(row.sizeBytes) }).toEqual({ sha256: sha(complete), size: complete.length });

    const other = await finishedFile('quarantined');
    writeFileSync(join(dir, other.storedPath), complete);
    await expect(sut.replay(other.id)).rejects.toMatchObject({ code: 'content_live', details: { liveFileId: f.id } });
  });

  it('says so when the stored bytes are gone', async () => {
    const f = await finishedFile('failed');
    rmSync(join(dir, f.storedPath));
    await expect(sut.replay(f.id)).rejects.toMatchObject({ code: 'file_missing' });
  });

  /** A small API payload kept in ingest_payloads, finished in `status`. */
  const storedPayload = async (status: 'processed' | 'quarantined' | 'failed', content = `{"time_stamp":"2019-05-01T06:00:00-04:00","data":[${Math.random()}]}`) => {
    const id = randomUUID();
    await ledger.registerMany(ds, [{ id, source: 'api', originalName: `${id}.json`, storedPath: databaseStoredPath(id), sha256: sha(content), sizeBytes: content.length }], new Map([[id, Buffer.from(content)]]));
    await ds.query(`UPDATE ingest_files SET status = $2, attempts = 3, error = '{"rule":"x","message":"bad"}', finished_at = now() WHERE id = $1`, [id, status]);
    await ds.query(`INSERT INTO ingest_errors (file_id, line, rule, message) VALUES ($1, 1, 'x', 'bad')`, [id]);
    return { id, content };
  };

  it('replays a payload stored in the database: no file involved, stored_path kept, row queued afresh, published once', async () => {
    const p = await storedPayload('quarantined');
    const row = await sut.replay(p.id);
    expect(row).toMatchObject({ id: p.id, status: 'queued', attempts: 0, replays: 1, error: null, storedPath: databaseStoredPath(p.id) });
    expect(await ds.query(`SELECT * FROM ingest_errors WHERE file_id = $1`, [p.id])).toEqual([]);
    expect((await new StoredPayloads(ds).read(p.id))?.toString('utf8')).toBe(p.content);
    expect(existsSync(join(dir, 'processing', p.id))).toBe(false);
    expect((await queued()).filter(([id]) => id === p.id)).toEqual([[p.id, `${p.id}.replay.1`]]);
  });

  it('replays an object-store row: stored_path kept, its after-load action to be done again, published once', async () => {
    const id = randomUUID();
    const content = `sensor_uuid;sensor_name\n${randomUUID()};s\n`;
    const storedPath = objectStoredPath({ source: 'src', bucket: 'bkt', key: 'mapping/mapping.csv', etag: '"abc123"' });
    await ledger.register({ id, source: 's3', originalName: 's3://bkt/mapping/mapping.csv', storedPath, sha256: sha(content), sizeBytes: content.length });
    await ds.query(`INSERT INTO s3_objects (source, bucket, key, etag, file_id, size_bytes, settled_at, settled_as) VALUES ('src', 'bkt', 'mapping/mapping.csv', '"abc123"', $1, $2, now(), 'mapping/mapping.csv.error.json')`, [id, content.length]);
    await ds.query(`UPDATE ingest_files SET status = 'quarantined', error = '{"rule":"x","message":"bad"}', finished_at = now() WHERE id = $1`, [id]);
    const row = await sut.replay(id);
    expect(row).toMatchObject({ id, status: 'queued', replays: 1, error: null, storedPath });
    expect(await ds.query(`SELECT settled_at, settled_as FROM s3_objects WHERE file_id = $1`, [id])).toEqual([{ settled_at: null, settled_as: null }]);
    expect((await queued()).filter(([q]) => q === id)).toEqual([[id, `${id}.replay.1`]]);
  });

  it('says so when a payload stored in the database has lost its body', async () => {
    const p = await storedPayload('failed');
    await ds.query(`DELETE FROM ingest_payloads WHERE file_id = $1`, [p.id]);
    await expect(sut.replay(p.id)).rejects.toMatchObject({ code: 'file_missing', details: { storedPath: databaseStoredPath(p.id) } });
    expect((await ledger.get(p.id))!.status).toBe('failed');
  });

  it('replays every failed file finished since a time, and re-drives stuck rows', async () => {
    const old = await finishedFile('failed');
    await ds.query(`UPDATE ingest_files SET finished_at = now() - interval '1 day' WHERE id = $1`, [old.id]);
    const recent = [await finishedFile('failed'), await finishedFile('failed')];
    const result = await sut.replayWhere({ status: 'failed', since: new Date(Date.now() - 3600_000) });
    expect(result.replayed.map((r) => r.id).sort()).toEqual(recent.map((r) => r.id).sort());
    expect((await ledger.get(old.id))!.status).toBe('failed');

    await ds.query(`UPDATE ingest_files SET updated_at = now() - interval '10 minutes' WHERE id = $1`, [recent[0].id]);
    const before = await ledger.get(recent[0].id);
    const redriven = await sut.redriveStuck(60_000);
    expect(redriven.redriven).toEqual([recent[0].id]);
    expect((await queued()).filter(([id]) => id === recent[0].id).map(([, m]) => m)).toEqual([`${recent[0].id}.replay.1`, `${recent[0].id}.redrive.${new Date(before!.updatedAt).getTime()}`]);
    expect((await sut.redriveStuck(60_000)).redriven).toEqual([]);
  });

  it('refuses a file or a stored body that retention removed: file_expired with the time it was removed, and replayWhere leaves it out', async () => {
    const horizon = new Date(Date.now() - 365 * 86400_000);
    const longAgo = `now() - interval '400 days'`;
    const f = await finishedFile('failed');
    const p = await storedPayload('failed');
    await ds.query(`UPDATE ingest_files SET finished_at = ${longAgo} WHERE id = ANY($1::uuid[])`, [[f.id, p.id]]);
    expect((await new FiledFilesRetention(ds, drop).sweepQuarantine(horizon)).items).toBe(1);
    expect((await new StoredPayloads(ds).sweepExpired(horizon)).items).toBe(1);
    expect(existsSync(join(dir, f.storedPath))).toBe(false);

    for (const id of [f.id, p.id]) {
      const { expiredAt } = (await ledger.get(id))!;
      expect(expiredAt).toBeInstanceOf(Date);
      await expect(sut.replay(id)).rejects.toMatchObject({ code: 'file_expired', details: { id, expiredAt: new Date(expiredAt!).toISOString() } });
      expect((await ledger.get(id))!.status).toBe('failed');
    }
    const all = await sut.replayWhere({ status: 'failed' });
    const touched = [...all.replayed.map((r) => r.id), ...all.skipped.map((s) => s.id)];
    expect(touched).not.toContain(f.id);
    expect(touched).not.toContain(p.id);
    expect((await queued()).filter(([id]) => id === f.id || id === p.id)).toEqual([]);
  });

  it('a file retention removes between its restore and the reset: file_expired, and no copy of it left in processing/', async () => {
    const f = await finishedFile('quarantined');
    await ds.query(`UPDATE ingest_files SET finished_at = now() - interval '400 days' WHERE id = $1`, [f.id]);
    const horizon = new Date(Date.now() - 365 * 86400_000);
    // The sweep runs right after the replay linked the file back into processing/.
    const racing = Object.create(drop) as OutcomeFiling;
    racing.restore = async (storedPath: string, fileId: string) => {
      const restored = await drop.restore(storedPath, fileId);
      expect((await new FiledFilesRetention(ds, drop).sweepQuarantine(horizon)).items).toBe(1);
      return restored;
    };
    const replay = new ReplayService(ds, ledger, racing, new LedgerAnnouncer(ledger, js), new StoredPayloads(ds));

    await expect(replay.replay(f.id)).rejects.toMatchObject({ code: 'file_expired', details: { id: f.id } });
    expect(existsSync(join(dir, 'processing', `${f.id}__${f.name}`))).toBe(false);
    expect(existsSync(join(dir, f.storedPath))).toBe(false);
    expect((await ledger.get(f.id))!).toMatchObject({ status: 'quarantined', storedPath: f.storedPath, expiredAt: expect.any(Date) });
    expect((await queued()).filter(([id]) => id === f.id)).toEqual([]);
  });
});
