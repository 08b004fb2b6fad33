import { Logger } from '@nestjs/common';
import { SqlState, type IngestFile } from '@sluice/db';
import type { LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { OutcomeFiling, StorageException } from '@sluice/storage';
import type { DataSource, QueryRunner } from 'typeorm';
import { ReplayException } from './replay.exception';
import { ReplayService } from './replay.service';

// ReplayService's branches with typed fakes: no PostgreSQL, no NATS, no drop folder (replay.int-spec.ts runs
// the same service against the real ones).

let n = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
const sha = (c: string) => c.repeat(64).slice(0, 64);
type ContentDigest = Awaited<ReturnType<OutcomeFiling['sha256AndSize']>>;

function fileRow(over: Partial<IngestFile> = {}): IngestFile {
  const id = over.id ?? uuid();
  return {
    id,
    source: 'dropzone',
    originalName: 'a.csv',
    storedPath: `quarantine/a.csv`,
    sha256: sha('a'),
    sizeBytes: '10',
    status: 'quarantined',
    attempts: 3,
    replays: 0,
    updatedAt: new Date('2026-01-05T10:00:01.000Z'),
    ...over,
  } as IngestFile;
}

/** The ledger table: rows by id, changed only by what a transaction commits. */
class FakeLedger implements Pick<LedgerRepository, 'get' | 'findStale' | 'touch'> {
  readonly rows = new Map<string, IngestFile>();
  stale: IngestFile[] = [];
  readonly touched: string[] = [];
  /** Ids whose row reads as gone after the reset (a row deleted by hand in between). */
  readonly vanishing = new Set<string>();

  /** Stores a copy: the test keeps the row as it was. */
  add(row: IngestFile): IngestFile {
    this.rows.set(row.id, { ...row });
    return row;
  }

  async get(id: string): Promise<IngestFile | null> {
    const row = this.rows.get(id);
    return row && !(this.vanishing.has(id) && row.status === 'queued') ? { ...row } : null;
  }

  async findStale(): Promise<IngestFile[]> {
    return this.stale;
  }

  async touch(id: string): Promise<void> {
    this.touched.push(id);
  }
}

/** The statements of ReplayService.resetRow, against FakeLedger's rows: the reset is applied on COMMIT. */
class FakeQueryRunner {
  isTransactionActive = false;
  committed = false;
  rolledBack = false;
  private reset?: { id: string; storedPath: string; sha256: string; size: number };

  constructor(private readonly db: FakeDatabase) {}

  /** The pg client the runner lends (withTransaction queries through it): this fake plays both. */
  connect(): Promise<FakeQueryRunner> {
    return Promise.resolve(this);
  }

  release(): Promise<void> {
    return Promise.resolve();
  }

  async startTransaction(): Promise<void> {
    this.isTransactionActive = true;
  }

  async commitTransaction(): Promise<void> {
    if (this.reset) {
      const row = this.db.ledger.rows.get(this.reset.id) as IngestFile;
      Object.assign(row, { status: 'queued', storedPath: this.reset.storedPath, sha256: this.reset.sha256, sizeBytes: String(this.reset.size), attempts: 0, replays: row.replays + 1, error: null });
    }
    this.isTransactionActive = false;
    this.committed = true;
  }

  async rollbackTransaction(): Promise<void> {
    this.isTransactionActive = false;
    this.rolledBack = true;
  }

  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    if (sql === 'BEGIN') return this.startTransaction();
    if (sql === 'COMMIT') return this.commitTransaction();
    if (sql === 'ROLLBACK') return this.rollbackTransaction();
    const [id] = params as string[];
    if (sql.includes('FOR UPDATE')) {
      const row = this.db.ledger.rows.get(id);
      return row ? [{ status: this.db.statusUnderLock ?? row.status, expiredAt: this.db.expiredUnderLock ?? row.expiredAt ?? null }] : [];
    }
    if (sql.startsWith('UPDATE ingest_files')) {
      const [, storedPath, sha256, size] = params as [string, string, string, number];
      if (this.db.liveContent.has(sha256)) throw Object.assign(new Error('duplicate key value violates unique constraint'), { code: SqlState.uniqueViolation });
      this.reset = { id, storedPath, sha256, size };
      return [[{ replays: (this.db.ledger.rows.get(id) as IngestFile).replays + 1 }], 1];
    }
    if (sql.includes('SELECT l.id')) return [{ id: this.db.liveContent.get(params[1] as string) }];
    return [];
  }
}

/** DataSource: query runners for the resets, and the SELECT of replayWhere. */
class FakeDatabase implements Pick<DataSource, 'query'> {
  readonly runners: FakeQueryRunner[] = [];
  /** sha256 → id of a live row holding that content (the unique index). */
  readonly liveContent = new Map<string, string>();
  /** The status the row has once locked, when another replay got there first. */
  statusUnderLock?: IngestFile['status'];
  /** When retention removed the row's bytes, as read under the lock (a sweep that got there between read and reset). */
  expiredUnderLock?: Date;

  constructor(readonly ledger: FakeLedger) {}

  createQueryRunner(): QueryRunner {
    const runner = new FakeQueryRunner(this);
    this.runners.push(runner);
    return runner as unknown as QueryRunner;
  }

  async query<T>(_sql: string, params: unknown[] = []): Promise<T> {
    return [...this.ledger.rows.values()].filter((r) => r.status === params[0]).map((r) => ({ id: r.id })) as T;
  }
}

/** processed/ and quarantine/: restore links a file back into processing/, releaseRestored removes the old name. */
class FakeDrop implements Pick<OutcomeFiling, 'restore' | 'releaseRestored' | 'discardRestored' | 'sha256AndSize'> {
  readonly released: string[] = [];
  readonly discarded: string[] = [];
  readonly missing = new Set<string>();
  /** Content found in processing/ when hashed again, by stored path (default: what the row recorded). */
  readonly content = new Map<string, ContentDigest>();
  restoreError?: Error;
  releaseError?: Error;

  async restore(storedPath: string, fileId: string): Promise<{ storedPath: string; previous: string | null }> {
    if (this.restoreError) throw this.restoreError;
    if (this.missing.has(storedPath)) throw new StorageException('missing', `${storedPath} does not exist`);
    return { storedPath: `processing/${fileId}__a.csv`, previous: storedPath };
  }

  async releaseRestored(previous: string): Promise<void> {
    if (this.releaseError) throw this.releaseError;
    this.released.push(previous);
  }

  async discardRestored(storedPath: string): Promise<void> {
    this.discarded.push(storedPath);
  }

  async sha256AndSize(storedPath: string): Promise<ContentDigest> {
    return this.content.get(storedPath) ?? { sha256: sha('a'), size: 10, compression: null };
  }
}

class FakePayloads implements Pick<StoredPayloads, 'read'> {
  readonly bodies = new Map<string, Buffer>();

  async read(fileId: string): Promise<Buffer | null> {
    return this.bodies.get(fileId) ?? null;
  }
}

/** What was announced, with the row's status at that moment; `down` is a NATS that takes no publish. */
class FakeAnnouncer implements Pick<LedgerAnnouncer, 'requeued'> {
  readonly announced: Array<{ id: string; status: string; msgId: string }> = [];
  down = false;

  constructor(private readonly ledger: FakeLedger) {}

  async requeued(row: IngestFile, msgId: string): Promise<boolean> {
    if (this.down) return false;
    this.announced.push({ id: row.id, status: this.ledger.rows.get(row.id)?.status ?? 'gone', msgId });
    return true;
  }
}

describe(ReplayService.name, () => {
  let ledger: FakeLedger;
  let db: FakeDatabase;
  let drop: FakeDrop;
  let payloads: FakePayloads;
  let announcer: FakeAnnouncer;
  let sut: ReplayService;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    ledger = new FakeLedger();
    db = new FakeDatabase(ledger);
    drop = new FakeDrop();
    payloads = new FakePayloads();
    announcer = new FakeAnnouncer(ledger);
    sut = new ReplayService(db as unknown as DataSource, ledger as unknown as LedgerRepository, drop as unknown as OutcomeFiling, announcer as unknown as LedgerAnnouncer, payloads as unknown as StoredPayloads);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

  describe('replay', () => {
    it('brings a quarantined file back into processing/, resets its row, then announces it as replay 1 and removes the old name', async () => {
      const f = ledger.add(fileRow());

      const row = await sut.replay(f.id);

      expect(row).toMatchObject({ id: f.id, status: 'queued', storedPath: `processing/${f.id}__a.csv`, attempts: 0, replays: 1 });
      expect(db.runners[0]).toMatchObject({ committed: true, rolledBack: false });
      expect(announcer.announced).toEqual([{ id: f.id, status: 'queued', msgId: `${f.id}.replay.1` }]);
      expect(drop.released).toEqual(['quarantine/a.csv']);
    });

    it('gives each replay of a file its own msg id', async () => {
      const f = ledger.add(fileRow({ status: 'processed', storedPath: 'processed/a.csv' }));
      await sut.replay(f.id);
      (ledger.rows.get(f.id) as IngestFile).status = 'processed';
      await sut.replay(f.id);

      expect(announcer.announced.map((a) => a.msgId)).toEqual([`${f.id}.replay.1`, `${f.id}.replay.2`]);
    });

    it('refuses an unknown id, a duplicate and a file not finished yet, and changes nothing', async () => {
      const dup = ledger.add(fileRow({ status: 'duplicate' }));
      const queued = ledger.add(fileRow({ status: 'queued' }));

      expect(await refusal(sut.replay(uuid()))).toMatchObject({ code: 'not_found' });
      expect(await refusal(sut.replay(dup.id))).toMatchObject({ code: 'not_replayable', message: expect.stringContaining('replay the file it duplicates') });
      expect(await refusal(sut.replay(queued.id))).toMatchObject({ code: 'not_replayable', message: expect.stringContaining('has not finished yet') });
      expect(db.runners).toEqual([]);
      expect(announcer.announced).toEqual([]);
    });

    it('replays a payload stored in the database where it is, while its body is there', async () => {
      const kept = ledger.add(fileRow({ storedPath: 'database/x', status: 'failed' }));
      payloads.bodies.set(kept.id, Buffer.from('{}'));
      const gone = ledger.add(fileRow({ storedPath: 'database/y', status: 'failed' }));

      expect(await sut.replay(kept.id)).toMatchObject({ status: 'queued', storedPath: 'database/x' });
      expect(await refusal(sut.replay(gone.id))).toMatchObject({ code: 'file_missing', message: expect.stringContaining('missing from ingest_payloads') });
      expect(announcer.announced.map((a) => a.id)).toEqual([kept.id]);
      expect(drop.released).toEqual([]);
    });

    it('replays an object version and an archive member where they are, with the content the row recorded', async () => {
      const object = ledger.add(fileRow({ storedPath: 's3/raw/bucket/etag/a.csv', source: 's3' }));
      const member = ledger.add(fileRow({ storedPath: `archive/${uuid()}/3` }));
      drop.content.set(object.storedPath, { sha256: sha('z'), size: 99, compression: null });

      expect(await sut.replay(object.id)).toMatchObject({ storedPath: object.storedPath, sha256: sha('a'), sizeBytes: '10' });
      expect(await sut.replay(member.id)).toMatchObject({ storedPath: member.storedPath });
      expect(drop.released).toEqual([]);
    });

    it('refuses a file whose bytes are gone, and passes on any other failure to restore them', async () => {
      const f = ledger.add(fileRow());
      drop.missing.add(f.storedPath);
      expect(await refusal(sut.replay(f.id))).toMatchObject({ code: 'file_missing', details: { id: f.id, storedPath: f.storedPath } });

      drop.restoreError = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      const e = await refusal(sut.replay(f.id));
      expect(e).not.toBeInstanceOf(ReplayException);
      expect(e).toMatchObject({ code: 'EIO' });
      expect(announcer.announced).toEqual([]);
    });

    it('records the content a file holds now when it changed after it was stored', async () => {
      const f = ledger.add(fileRow());
      drop.content.set(`processing/${f.id}__a.csv`, { sha256: sha('b'), size: 25, compression: null });

      expect(await sut.replay(f.id)).toMatchObject({ sha256: sha('b'), sizeBytes: '25' });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('changed since it was stored: 10 → 25 bytes'));
    });

    it('refuses to load content twice: the same bytes live as another file', async () => {
      const f = ledger.add(fileRow());
      const live = uuid();
      db.liveContent.set(f.sha256, live);

      expect(await refusal(sut.replay(f.id))).toMatchObject({ code: 'content_live', details: { id: f.id, liveFileId: live } });
      expect(drop.discarded).toEqual([]);
      expect(db.runners[0]).toMatchObject({ committed: false, rolledBack: true });
      expect(ledger.rows.get(f.id)?.status).toBe('quarantined');
      expect(announcer.announced).toEqual([]);
      expect(drop.released).toEqual([]);
    });

    it('refuses a file whose bytes retention removed, with the time they were removed, and touches nothing', async () => {
      const expiredAt = new Date('2026-03-01T02:00:00.000Z');
      const f = ledger.add(fileRow({ expiredAt }));
      const body = ledger.add(fileRow({ storedPath: 'database/z', status: 'processed', expiredAt }));

      for (const id of [f.id, body.id]) {
        expect(await refusal(sut.replay(id))).toMatchObject({ code: 'file_expired', details: { id, expiredAt: '2026-03-01T02:00:00.000Z' }, message: expect.stringContaining('removed by retention') });
      }
      expect(db.runners).toEqual([]);
      expect(announcer.announced).toEqual([]);
      expect(drop.released).toEqual([]);
    });

    it('refuses a file whose bytes retention removed while it was being restored (expired_at is read again under the lock)', async () => {
      const f = ledger.add(fileRow());
      db.expiredUnderLock = new Date('2026-03-01T02:00:00.000Z');

      expect(await refusal(sut.replay(f.id))).toMatchObject({ code: 'file_expired', details: { id: f.id, expiredAt: '2026-03-01T02:00:00.000Z' } });
      expect(db.runners[0]).toMatchObject({ committed: false, rolledBack: true });
      expect(ledger.rows.get(f.id)?.status).toBe('quarantined');
      expect(announcer.announced).toEqual([]);
      // The link the restore made in processing/ goes: nothing may load it.
      expect(drop.discarded).toEqual([`processing/${f.id}__a.csv`]);
      expect(drop.released).toEqual([]);
    });

    it('refuses a row another replay reset first (its status is read again under the lock)', async () => {
      const f = ledger.add(fileRow());
      db.statusUnderLock = 'queued';

      expect(await refusal(sut.replay(f.id))).toMatchObject({ code: 'not_replayable' });
      expect(db.runners[0]).toMatchObject({ committed: false, rolledBack: true });
      expect(announcer.announced).toEqual([]);
    });

    it('answers the queued row even when its message cannot be published (the watcher requeues it)', async () => {
      const f = ledger.add(fileRow());
      announcer.down = true;

      expect(await sut.replay(f.id)).toMatchObject({ id: f.id, status: 'queued', replays: 1 });
    });

    it('replays even when the old copy cannot be removed, and says so', async () => {
      const f = ledger.add(fileRow());
      drop.releaseError = new Error('EACCES');

      expect(await sut.replay(f.id)).toMatchObject({ status: 'queued' });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`could not remove the old copy ${f.storedPath}`));
    });

    it('announces nothing for a row gone from the ledger once reset', async () => {
      const f = ledger.add(fileRow());
      ledger.vanishing.add(f.id);

      expect(await refusal(sut.replay(f.id))).toMatchObject({ code: 'not_found', message: expect.stringContaining('vanished') });
      expect(announcer.announced).toEqual([]);
    });
  });

  describe('replayWhere', () => {
    it('replays every file in the status and lists the ones refused', async () => {
      const ok = ledger.add(fileRow({ status: 'failed', storedPath: 'quarantine/ok.csv' }));
      const gone = ledger.add(fileRow({ status: 'failed', storedPath: 'quarantine/gone.csv' }));
      ledger.add(fileRow({ status: 'quarantined' }));
      drop.missing.add(gone.storedPath);

      const result = await sut.replayWhere({ status: 'failed' });

      expect(result.replayed.map((r) => r.id)).toEqual([ok.id]);
      expect(result.skipped).toEqual([{ id: gone.id, code: 'file_missing', message: expect.stringContaining(gone.storedPath) }]);
    });

    it('stops at a failure that is not a refusal', async () => {
      ledger.add(fileRow({ status: 'failed' }));
      drop.restoreError = new Error('EIO');

      await expect(sut.replayWhere({ status: 'failed' })).rejects.toThrow('EIO');
    });
  });

  describe('redriveStuck', () => {
    it('announces every stale row under its re-drive id and touches it, published or not', async () => {
      const [a, b] = [fileRow({ status: 'queued' }), fileRow({ status: 'processing', updatedAt: new Date('2026-01-05T10:00:02.000Z') })];
      ledger.stale = [ledger.add(a), ledger.add(b)];

      expect(await sut.redriveStuck(60000)).toEqual({ redriven: [a.id, b.id] });
      expect(announcer.announced.map((x) => x.msgId)).toEqual([`${a.id}.redrive.1767607201000`, `${b.id}.redrive.1767607202000`]);
      expect(ledger.touched).toEqual([a.id, b.id]);

      announcer.down = true;
      expect(await sut.redriveStuck(60000)).toEqual({ redriven: [a.id, b.id] });
      expect(ledger.touched).toEqual([a.id, b.id, a.id, b.id]);
    });
  });
});
