import { createDataSource } from '@sluice/db';
import { OutcomeFiling } from '@sluice/storage';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DataSource } from 'typeorm';
import { FiledFilesRetention } from './filed-files-retention';
import { LedgerRepository } from './ledger.repository';
import { LedgerRetention } from './ledger-retention';
import { retentionHorizon, type SweepResult } from './retention';
import { databaseStoredPath, StoredPayloads } from './stored-payloads.repository';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every time below is fixed: rows finished before HORIZON are past it, whatever the clock says. */
const HORIZON = new Date('2026-01-01T00:00:00.000Z');
const OLD = '2025-06-01T00:00:00.000Z';
const NEW = '2026-06-01T00:00:00.000Z';

interface Row {
  status: string;
  storedPath: string;
  finishedAt?: string | null;
  name?: string;
  content?: string;
  duplicateOf?: string;
  archiveId?: string;
  memberIndex?: number;
  expired?: boolean;
  source?: string;
}

describe('retention sweeps (real PostgreSQL, a drop folder in a temp dir)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let tmp: string;
  let filing: OutcomeFiling;

  beforeAll(async () => {
    db = await createTestDatabase('retention');
    ds = createDataSource(db.url, { poolSize: 3 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    await ds.query(`TRUNCATE ingest_files, ingest_errors, ingest_payloads, s3_objects`);
    tmp = mkdtempSync(join(tmpdir(), 'sluice-retention-'));
    filing = new OutcomeFiling(join(tmp, 'drop'));
    await filing.init();
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const put = (storedPath: string, content: string) => {
    const abs = join(tmp, 'drop', storedPath);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  };
  const exists = (storedPath: string) => existsSync(join(tmp, 'drop', storedPath));

  /** A ledger row as the pipeline leaves it; `content` is its sha256's source (and unique by default). */
  const row = async (r: Row): Promise<string> => {
    const id = randomUUID();
    const storedPath = r.storedPath.replace('<id>', id);
    await ds.query(
      `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, duplicate_of, archive_id, member_index, finished_at, expired_at)
       VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, CASE WHEN $11 THEN now() END)`,
      [id, r.source ?? 'dropzone', r.name ?? storedPath, storedPath, sha(r.content ?? id), r.status, r.duplicateOf ?? null, r.archiveId ?? null, r.memberIndex ?? null, r.finishedAt === undefined ? OLD : r.finishedAt, r.expired === true],
    );
    return id;
  };
  const expiredIds = async (): Promise<string[]> => (await ds.query(`SELECT id FROM ingest_files WHERE expired_at IS NOT NULL ORDER BY id`)).map((r: { id: string }) => r.id);
  const ledgerIds = async (): Promise<string[]> => (await ds.query(`SELECT id FROM ingest_files ORDER BY id`)).map((r: { id: string }) => r.id);
  const sorted = (ids: string[]) => [...ids].sort();
  const sameCounts = (r: SweepResult) => ({ items: r.items, bytes: r.bytes, examples: sorted(r.examples) });

  describe(FiledFilesRetention.name, () => {
    it('removes the files filed before the horizon (quarantined ones with their error.json), marks their rows, and keeps newer ones, S3 files and unfinished rows', async () => {
      put('processed/site/old.csv', 'old-processed');
      const processedOld = await row({ status: 'processed', storedPath: 'processed/site/old.csv', name: 'site/old.csv' });
      put('processed/dup.csv', 'dupdup');
      const duplicateOld = await row({ status: 'duplicate', storedPath: 'processed/dup.csv', name: 'dup.csv' });
      const gone = await row({ status: 'processed', storedPath: 'processed/gone.csv', name: 'gone.csv' });
      put('processed/a.zip', 'zip!');
      const zip = await row({ status: 'processed', storedPath: 'processed/a.zip', name: 'a.zip' });
      const member = await row({ status: 'processed', storedPath: `archive/${zip}/0`, archiveId: zip, memberIndex: 0 });
      put('processed/new.csv', 'new');
      const processedNew = await row({ status: 'processed', storedPath: 'processed/new.csv', finishedAt: NEW });
      const object = await row({ status: 'processed', storedPath: 's3/src/bkt/etag/k.csv', source: 's3' });
      put('processing/queued.csv', 'queued');
      const queued = await row({ status: 'queued', storedPath: 'processing/queued.csv', finishedAt: null });
      put('quarantine/bad.csv', 'bad');
      put('quarantine/bad.csv.error.json', '{"rule":"x"}');
      const quarantinedOld = await row({ status: 'quarantined', storedPath: 'quarantine/bad.csv', name: 'bad.csv' });
      put('quarantine/sub/failed.csv', 'failed!');
      put('quarantine/sub/failed.csv.error.json', '{}');
      const failedOld = await row({ status: 'failed', storedPath: 'quarantine/sub/failed.csv', name: 'sub/failed.csv' });
      put('quarantine/new.csv', 'new');
      put('quarantine/new.csv.error.json', '{}');
      const quarantinedNew = await row({ status: 'quarantined', storedPath: 'quarantine/new.csv', finishedAt: NEW });
      const sut = new FiledFilesRetention(ds, filing);
      const everyFile = () => [...readdirSync(join(tmp, 'drop'), { recursive: true, encoding: 'utf8' })].sort();
      const before = everyFile();

      const processedPlan = await sut.sweepProcessed(HORIZON, { dryRun: true });
      const quarantinePlan = await sut.sweepQuarantine(HORIZON, { dryRun: true });
      expect(sameCounts(processedPlan)).toEqual({ items: 4, bytes: 13 + 6 + 0 + 4, examples: sorted(['site/old.csv', 'dup.csv', 'gone.csv', 'a.zip']) });
      expect(sameCounts(quarantinePlan)).toEqual({ items: 2, bytes: 3 + 12 + 7 + 2, examples: sorted(['bad.csv', 'sub/failed.csv']) });
      expect(everyFile()).toEqual(before);
      expect(await expiredIds()).toEqual([]);

      expect(sameCounts(await sut.sweepProcessed(HORIZON))).toEqual(sameCounts(processedPlan));
      expect((await sut.sweepQuarantine(HORIZON, { limit: 1 })).items).toBe(1);
      const rest = await sut.sweepQuarantine(HORIZON);
      expect(rest.items).toBe(1);

      for (const p of ['processed/site/old.csv', 'processed/dup.csv', 'processed/a.zip', 'quarantine/bad.csv', 'quarantine/bad.csv.error.json', 'quarantine/sub/failed.csv', 'quarantine/sub/failed.csv.error.json']) {
        expect(exists(p)).toBe(false);
      }
      for (const p of ['processed/new.csv', 'processing/queued.csv', 'quarantine/new.csv', 'quarantine/new.csv.error.json']) expect(exists(p)).toBe(true);
      expect(await expiredIds()).toEqual(sorted([processedOld, duplicateOld, gone, zip, member, quarantinedOld, failedOld]));
      const kept = await ds.query(`SELECT id FROM ingest_files WHERE id = ANY($1::uuid[]) AND expired_at IS NULL`, [[processedNew, object, queued, quarantinedNew]]);
      expect(kept).toHaveLength(4);
      // The rows stay: nothing is deleted from the ledger.
      expect(await ledgerIds()).toHaveLength(11);
      // A second run finds nothing more.
      expect((await sut.sweepProcessed(HORIZON)).items).toBe(0);
    });

    it('leaves a zip archive while a member of it is queued again (a member replay reads the archive)', async () => {
      put('processed/b.zip', 'zip');
      const archive = await row({ status: 'processed', storedPath: 'processed/b.zip' });
      const member = await row({ status: 'queued', storedPath: `archive/${archive}/0`, archiveId: archive, memberIndex: 0, finishedAt: null });
      const sut = new FiledFilesRetention(ds, filing);
      expect((await sut.sweepProcessed(HORIZON)).items).toBe(0);
      expect(exists('processed/b.zip')).toBe(true);

      await ds.query(`UPDATE ingest_files SET status = 'processed', finished_at = $2 WHERE id = $1`, [member, OLD]);
      expect((await sut.sweepProcessed(HORIZON)).items).toBe(1);
      expect(await expiredIds()).toEqual(sorted([archive, member]));
    });

    it('keeps a file whose row a replay holds, and leaves it for the next run', async () => {
      put('processed/held.csv', 'held');
      const held = await row({ status: 'processed', storedPath: 'processed/held.csv' });
      const sut = new FiledFilesRetention(ds, filing);
      const runner = ds.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        await runner.query(`SELECT id FROM ingest_files WHERE id = $1 FOR UPDATE`, [held]);
        expect((await sut.sweepProcessed(HORIZON)).items).toBe(0);
        await runner.rollbackTransaction();
      } finally {
        await runner.release();
      }
      expect(exists('processed/held.csv')).toBe(true);
      expect((await sut.sweepProcessed(HORIZON)).items).toBe(1);
      expect(exists('processed/held.csv')).toBe(false);
    });

    it('still finds a re-drop of expired bytes as a duplicate of the expired row', async () => {
      put('processed/once.csv', 'ts,device,temp\n1,a,20\n');
      const original = await row({ status: 'processed', storedPath: 'processed/once.csv', content: 'ts,device,temp\n1,a,20\n' });
      await new FiledFilesRetention(ds, filing).sweepProcessed(HORIZON);
      expect(await expiredIds()).toEqual([original]);

      const again = randomUUID();
      const registered = await new LedgerRepository(ds).register({ id: again, source: 'dropzone', originalName: 'once-again.csv', storedPath: `processing/${again}__once-again.csv`, sha256: sha('ts,device,temp\n1,a,20\n'), sizeBytes: 22 });
      expect(registered).toMatchObject({ status: 'duplicate', duplicateOf: original });
    });
  });

  describe('StoredPayloads.sweepExpired', () => {
    const payload = async (r: Omit<Row, 'storedPath'>, body: string | null) => {
      const id = await row({ ...r, storedPath: databaseStoredPath('<id>'), source: 'api', name: r.name });
      if (body !== null) await ds.query(`INSERT INTO ingest_payloads (file_id, body) VALUES ($1, $2)`, [id, Buffer.from(body)]);
      return id;
    };
    const bodies = async (): Promise<string[]> => (await ds.query(`SELECT file_id FROM ingest_payloads ORDER BY file_id`)).map((r: { file_id: string }) => r.file_id);

    it('removes the bodies of terminal payloads finished before the horizon, in batches, and never touches queued or processing ones', async () => {
      const processed = await payload({ status: 'processed', name: 'p.json' }, 'aaaa');
      const duplicate = await payload({ status: 'duplicate', name: 'd.json' }, 'bb');
      const failedWithoutBody = await payload({ status: 'failed', name: 'f.json' }, null);
      const queued = await payload({ status: 'queued', finishedAt: null }, 'cc');
      const processing = await payload({ status: 'processing', finishedAt: null }, 'dd');
      const recent = await payload({ status: 'processed', finishedAt: NEW }, 'ee');
      // More old ones than one statement takes (1,000), so the walk goes on past its first batch.
      await ds.query(
        `WITH f AS (INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, finished_at)
                    SELECT id, 'api', 'bulk.json', 'database/' || id, encode(sha256(id::text::bytea), 'hex'), 1, 'quarantined', $1::timestamptz - make_interval(secs => i)
                    FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, 1005) i) g RETURNING id)
         INSERT INTO ingest_payloads (file_id, body) SELECT id, '\\x00'::bytea FROM f`,
        [OLD],
      );
      const sut = new StoredPayloads(ds);

      const plan = await sut.sweepExpired(HORIZON, { dryRun: true });
      expect(plan).toMatchObject({ items: 3 + 1005, bytes: 4 + 2 + 1005 });
      expect(plan.examples).toHaveLength(5);
      expect(await bodies()).toHaveLength(5 + 1005);
      expect(await expiredIds()).toEqual([]);

      expect(sameCounts(await sut.sweepExpired(HORIZON))).toEqual(sameCounts(plan));
      expect(await bodies()).toEqual(sorted([queued, processing, recent]));
      const expired = await expiredIds();
      expect(expired).toHaveLength(3 + 1005);
      expect(expired).toEqual(expect.arrayContaining([processed, duplicate, failedWithoutBody]));
      expect((await sut.sweepExpired(HORIZON)).items).toBe(0);
    });

    it('takes at most `limit` payloads a call', async () => {
      for (let i = 0; i < 3; i++) await payload({ status: 'processed' }, 'x');
      const sut = new StoredPayloads(ds);
      expect((await sut.sweepExpired(HORIZON, { limit: 2 })).items).toBe(2);
      expect((await sut.sweepExpired(HORIZON, { limit: 2 })).items).toBe(1);
    });
  });

  describe(LedgerRetention.name, () => {
    it('deletes old terminal rows with their row errors and bodies, after what references them, and keeps referenced, unfinished and unfiled rows', async () => {
      const plain = await row({ status: 'processed', storedPath: 'processed/plain.csv', expired: true, name: 'plain.csv', content: 'plain' });
      await ds.query(`INSERT INTO ingest_errors (file_id, line, rule, message) SELECT $1, n, 'x', 'bad' FROM generate_series(1, 3) n`, [plain]);
      const withBody = await row({ status: 'failed', storedPath: databaseStoredPath('<id>'), source: 'api', name: 'body.json' });
      await ds.query(`INSERT INTO ingest_payloads (file_id, body) VALUES ($1, '\\x010203'::bytea)`, [withBody]);
      // An original whose duplicate is old too: both go (the duplicate first).
      const original = await row({ status: 'processed', storedPath: 'processed/o.csv', expired: true, name: 'o.csv' });
      const oldDuplicate = await row({ status: 'duplicate', storedPath: 'processed/o2.csv', expired: true, duplicateOf: original, name: 'o2.csv' });
      // An original a recent duplicate still names: both stay.
      const referenced = await row({ status: 'processed', storedPath: 'processed/r.csv', expired: true });
      const recentDuplicate = await row({ status: 'duplicate', storedPath: 'processed/r2.csv', expired: true, duplicateOf: referenced, finishedAt: NEW });
      // An archive whose members are all finished: all go; one with a member still queued: both stay.
      const archive = await row({ status: 'processed', storedPath: 'processed/a.zip', expired: true, name: 'a.zip' });
      const members = [await row({ status: 'processed', storedPath: `archive/${archive}/0`, archiveId: archive, memberIndex: 0, name: 'a.zip/x.csv' }), await row({ status: 'quarantined', storedPath: `archive/${archive}/1`, archiveId: archive, memberIndex: 1, name: 'a.zip/y.csv' })];
      const busyArchive = await row({ status: 'processed', storedPath: 'processed/b.zip', expired: true });
      const queuedMember = await row({ status: 'queued', storedPath: `archive/${busyArchive}/0`, archiveId: busyArchive, memberIndex: 0, finishedAt: null });
      // A file still kept in processed/, one not filed yet, a queued row, a recent row.
      const stillFiled = await row({ status: 'processed', storedPath: 'processed/still.csv' });
      const unfiled = await row({ status: 'quarantined', storedPath: 'processing/<id>__u.csv' });
      const queued = await row({ status: 'queued', storedPath: 'processing/<id>__q.csv', finishedAt: null });
      const recent = await row({ status: 'processed', storedPath: 'processed/recent.csv', expired: true, finishedAt: NEW });
      // Object-store rows: one settled (goes), one whose after-load action is still to do (stays).
      const settled = await row({ status: 'processed', storedPath: 's3/src/bkt/e1/k1.csv', source: 's3', name: 's3://bkt/k1.csv' });
      const unsettled = await row({ status: 'processed', storedPath: 's3/src/bkt/e2/k2.csv', source: 's3' });
      await ds.query(
        `INSERT INTO s3_objects (source, bucket, key, etag, file_id, size_bytes, settled_at) VALUES ('src', 'bkt', 'k1.csv', 'e1', $1, 1, now()), ('src', 'bkt', 'k2.csv', 'e2', $2, 1, NULL)`,
        [settled, unsettled],
      );
      const sut = new LedgerRetention(ds);
      const all = await ledgerIds();
      const goes = [plain, withBody, original, oldDuplicate, archive, ...members, settled];
      const stays = [referenced, recentDuplicate, busyArchive, queuedMember, stillFiled, unfiled, queued, recent, unsettled];
      expect(sorted([...goes, ...stays])).toEqual(all);

      const plan = await sut.sweep(HORIZON, { dryRun: true });
      expect(plan).toMatchObject({ items: goes.length, bytes: 3 });
      expect(await ledgerIds()).toEqual(all);
      expect(await ds.query(`SELECT count(*)::int AS n FROM ingest_errors`)).toEqual([{ n: 3 }]);

      const done = await sut.sweep(HORIZON);
      expect({ items: done.items, bytes: done.bytes }).toEqual({ items: plan.items, bytes: plan.bytes });
      expect(await ledgerIds()).toEqual(sorted(stays));
      expect(await ds.query(`SELECT count(*)::int AS n FROM ingest_errors`)).toEqual([{ n: 0 }]);
      expect(await ds.query(`SELECT file_id FROM ingest_payloads`)).toEqual([]);
      expect((await sut.sweep(HORIZON)).items).toBe(0);

      // The ledger is what remembers content: the same bytes dropped again now load again.
      const again = randomUUID();
      const registered = await new LedgerRepository(ds).register({ id: again, source: 'dropzone', originalName: 'plain.csv', storedPath: `processing/${again}__plain.csv`, sha256: sha('plain'), sizeBytes: 5 });
      expect(registered.status).toBe('queued');
    });

    it('deletes an original after more old duplicates than one batch takes, in the same sweep', async () => {
      const original = await row({ status: 'processed', storedPath: 'processed/o.csv', expired: true, finishedAt: '2025-05-01T00:00:00.000Z' });
      await ds.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status, duplicate_of, finished_at, expired_at)
         SELECT gen_random_uuid(), 'dropzone', 'dup.csv', 'processed/dup' || i, encode(sha256(i::text::bytea), 'hex'), 1, 'duplicate', $1, $2::timestamptz + make_interval(secs => i), now()
         FROM generate_series(1, 250) i`,
        [original, OLD],
      );
      const sut = new LedgerRetention(ds);
      expect((await sut.sweep(HORIZON, { dryRun: true })).items).toBe(251);
      expect((await sut.sweep(HORIZON)).items).toBe(251);
      expect(await ledgerIds()).toEqual([]);
    });

    it('takes at most `limit` rows a call, and a dry run reports as many', async () => {
      for (let i = 0; i < 3; i++) await row({ status: 'failed', storedPath: `s3/src/bkt/e${i}/k.csv`, source: 's3' });
      const sut = new LedgerRetention(ds);
      expect((await sut.sweep(HORIZON, { limit: 2, dryRun: true })).items).toBe(2);
      expect((await sut.sweep(HORIZON, { limit: 2 })).items).toBe(2);
      expect((await sut.sweep(HORIZON, { limit: 2 })).items).toBe(1);
    });
  });

  it('retentionHorizon: the period before now, or null when unset', () => {
    expect(retentionHorizon(undefined, HORIZON)).toBeNull();
    expect(retentionHorizon(86400_000, HORIZON)).toEqual(new Date('2025-12-31T00:00:00.000Z'));
  });
});
