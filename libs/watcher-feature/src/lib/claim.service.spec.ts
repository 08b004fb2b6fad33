import { Logger } from '@nestjs/common';
import { FileSubjects, type FileSubject } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerAnnouncer, type LedgerRepository, type NewLedgerEntry, type RegisterResult } from '@sluice/loading';
import type { JetStreamService } from '@sluice/messaging';
import { StorageException, type DropClaims, type OutcomeTarget, type IrregularQuarantine, type OutcomeFiling } from '@sluice/storage';
import { basename } from 'node:path';
import { register } from 'prom-client';
import { ClaimService } from './claim.service';
import { FileLocks } from './concurrency.util';
import type { LedgerQueries } from './ledger-queries.repository';
import { OutcomeMover } from './outcome-mover.service';
import type { S3OutcomeSettler } from './s3-outcome-settler.service';
import { errno, FakeCounter, FakeJetStream, sha } from '../../test/fakes';
import type { WatcherMetrics } from './watcher.metrics';

// ClaimService's branches with typed fakes: no drop folder on disk, no PostgreSQL, no NATS. The announcer and
// the outcome mover are the real ones, over the same fakes, so that what a claim registers, moves and
// announces is what the test sees (watcher.int-spec.ts runs the whole watcher against the real services).

type ContentDigest = Awaited<ReturnType<DropClaims['sha256AndSize']>>;
type EntryType = IrregularQuarantine['type'];

interface FakeEntry {
  type: EntryType;
  digest: ContentDigest;
  /** Hard links to the bytes (ensurePrivate makes a private copy of a file with more than one). */
  links: number;
}

const file = (content: string, over: Partial<FakeEntry> = {}): FakeEntry => ({ type: 'file', digest: { sha256: sha(content), size: content.length * 10, compression: null }, links: 1, ...over });

/** Things that happened, in order, across the fakes (a move, a ledger write, a publish). */
type Journal = string[];

/** The drop folder by stored path (`incoming/…`, `processing/…`, `processed/…`, `quarantine/…`). */
class FakeFolder implements Pick<DropClaims, 'claim' | 'openForWriting' | 'ensurePrivate' | 'sha256AndSize' | 'quarantineIrregular'>, Pick<OutcomeFiling, 'fileOutcome'> {
  readonly entries = new Map<string, FakeEntry>();
  /** Stored paths some process holds open for writing. */
  readonly writers = new Set<string>();
  readonly hashed: string[] = [];
  readonly privateCopies: string[] = [];
  readonly quarantineReasons: string[] = [];
  writerScans = 0;
  claimError?: Error;
  /** Runs inside claim(), before the rename: a test's way to hold a claim open. */
  onClaim?: () => Promise<void>;
  /** Replaces what a stored path is between the link check and the hash (a file swapped during the claim). */
  onHash?: (storedPath: string) => void;
  scan?: () => Promise<Set<string>>;

  constructor(private readonly journal: Journal) {}

  async claim(relativeIncomingPath: string, fileId: string): Promise<{ storedPath: string } | null> {
    if (this.onClaim) await this.onClaim();
    if (this.claimError) throw this.claimError;
    const src = `incoming/${relativeIncomingPath}`;
    const entry = this.entries.get(src);
    if (!entry) return null;
    if (entry.type !== 'file') throw new StorageException('not_regular_file', `${src} is a ${entry.type}, not a regular file`);
    const storedPath = `processing/${fileId}__${basename(relativeIncomingPath)}`;
    this.move(src, storedPath);
    return { storedPath };
  }

  async openForWriting(): Promise<Set<string>> {
    this.writerScans++;
    return this.scan ? this.scan() : new Set(this.writers);
  }

  async ensurePrivate(storedPath: string): Promise<number> {
    const entry = this.get(storedPath);
    if (entry.type !== 'file') throw new StorageException('not_regular_file', `${storedPath} is a ${entry.type}, not a regular file`);
    if (entry.links > 1) this.privateCopies.push(storedPath);
    const links = entry.links;
    entry.links = 1;
    return links;
  }

  async sha256AndSize(storedPath: string): Promise<ContentDigest> {
    this.onHash?.(storedPath);
    const entry = this.get(storedPath);
    if (entry.type !== 'file') throw new StorageException('not_regular_file', `${storedPath} is a ${entry.type}`);
    this.hashed.push(storedPath);
    return entry.digest;
  }

  async quarantineIrregular(rootRelativePath: string, reason: string): Promise<IrregularQuarantine | null> {
    const entry = this.entries.get(rootRelativePath);
    if (!entry) return null;
    if (entry.type === 'file') throw new StorageException('not_regular_file', `${rootRelativePath} is a file`);
    const storedPath = `quarantine/${basename(rootRelativePath).replace(/^[0-9a-f-]{36}__/, '')}`;
    this.move(rootRelativePath, storedPath);
    this.quarantineReasons.push(reason);
    return { storedPath, type: entry.type };
  }

  async fileOutcome(storedPath: string, target: OutcomeTarget, originalName: string): Promise<string> {
    if (!this.entries.has(storedPath)) throw new StorageException('missing', `${storedPath} is gone`);
    const dest = `${target}/${originalName}`;
    this.move(storedPath, dest);
    this.journal.push(`move ${storedPath} → ${dest}`);
    return dest;
  }

  private get(storedPath: string): FakeEntry {
    const entry = this.entries.get(storedPath);
    if (!entry) throw errno('ENOENT');
    return entry;
  }

  private move(from: string, to: string): void {
    this.entries.set(to, this.get(from));
    this.entries.delete(from);
  }
}

/** The ledger table: `register` as LedgerRepository does it (content live elsewhere makes a duplicate). */
class FakeLedger implements Pick<LedgerRepository, 'register' | 'get' | 'setStoredPath'> {
  readonly rows = new Map<string, IngestFile>();
  readonly registered: NewLedgerEntry[] = [];
  /** The live row with the same content changes state between the conflicting insert and the look-up of its id. */
  originalGone = false;

  constructor(private readonly journal: Journal) {}

  add(over: Partial<IngestFile> & Pick<IngestFile, 'id' | 'status' | 'sha256'>): IngestFile {
    const row = { source: 'dropzone', originalName: 'earlier.csv', storedPath: 'processed/earlier.csv', sizeBytes: '10', compression: null, kind: null, duplicateOf: null, archiveId: null, error: null, updatedAt: new Date(), ...over } as IngestFile;
    this.rows.set(row.id, row);
    return row;
  }

  async register(entry: NewLedgerEntry): Promise<RegisterResult> {
    this.registered.push(entry);
    const existing = this.rows.get(entry.id);
    if (existing) return { status: 'existing', row: { ...existing } };
    const live = [...this.rows.values()].find((r) => r.sha256 === entry.sha256 && ['queued', 'processing', 'processed'].includes(r.status));
    const duplicateOf = live && !this.originalGone ? live.id : null;
    const row = this.add({ ...entry, sizeBytes: String(entry.sizeBytes), status: live ? 'duplicate' : 'queued', duplicateOf, compression: entry.compression ?? null });
    this.journal.push(`register ${entry.id} ${row.status}`);
    return live ? { status: 'duplicate', row: { ...row }, duplicateOf: duplicateOf ?? '' } : { status: 'queued', row: { ...row } };
  }

  async get(id: string): Promise<IngestFile | null> {
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }

  async setStoredPath(id: string, storedPath: string): Promise<void> {
    const row = this.rows.get(id);
    if (row) row.storedPath = storedPath;
    this.journal.push(`ledger ${id} at ${storedPath}`);
  }
}

class FakeQueries implements Pick<LedgerQueries, 'firstRowErrors' | 'hasPendingMembers'> {
  async firstRowErrors(): ReturnType<LedgerQueries['firstRowErrors']> {
    return [];
  }

  async hasPendingMembers(): Promise<boolean> {
    return false;
  }
}



type CounterName = 'claimed' | 'registered' | 'duplicates' | 'moved' | 'irregular' | 'heldOpen' | 'hardLinked';
type FakeMetrics = Record<CounterName, FakeCounter>;

const publishFailures = async (subject: FileSubject) => (await register.getSingleMetric('sluice_publish_failures_total')?.get())?.values.find((v) => v.labels['subject'] === subject)?.value ?? 0;

function harness() {
  const journal: Journal = [];
  const folder = new FakeFolder(journal);
  const ledger = new FakeLedger(journal);
  const jetstream = new FakeJetStream(journal);
  const metrics: FakeMetrics = { claimed: new FakeCounter(), registered: new FakeCounter(), duplicates: new FakeCounter(), moved: new FakeCounter(), irregular: new FakeCounter(), heldOpen: new FakeCounter(), hardLinked: new FakeCounter() };
  const locks = new FileLocks();
  const announcer = new LedgerAnnouncer(ledger as unknown as LedgerRepository, jetstream as unknown as JetStreamService);
  const mover = new OutcomeMover(
    folder as unknown as OutcomeFiling,
    ledger as unknown as LedgerRepository,
    new FakeQueries() as unknown as LedgerQueries,
    announcer,
    locks,
    metrics as unknown as WatcherMetrics,
    {} as S3OutcomeSettler,
  );
  const claims = new ClaimService(folder as unknown as DropClaims, announcer, mover, locks, metrics as unknown as WatcherMetrics);
  /** The file id a claim gave the file now at processing/<id>__<name>. */
  const claimedId = (name: string): string => {
    const stored = [...folder.entries.keys()].find((p) => p.startsWith('processing/') && p.endsWith(`__${name}`));
    if (!stored) throw new Error(`${name} is not in processing/`);
    return stored.slice('processing/'.length, 'processing/'.length + 36);
  };
  return { claims, folder, ledger, jetstream, metrics, journal, claimedId };
}

describe(ClaimService.name, () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  describe('claimIncoming', () => {
    it('claims a ready file into processing/, registers it as queued and announces it on files.queued', async () => {
      const h = harness();
      h.folder.entries.set('incoming/site-a/readings.csv', file('a'));

      await h.claims.claimIncoming('site-a/readings.csv');

      const id = h.claimedId('readings.csv');
      expect(h.folder.entries.has('incoming/site-a/readings.csv')).toBe(false);
      expect(h.ledger.registered).toEqual([{ id, source: 'dropzone', originalName: 'site-a/readings.csv', storedPath: `processing/${id}__readings.csv`, sha256: sha('a'), sizeBytes: 10, compression: null }]);
      expect(h.ledger.rows.get(id)?.status).toBe('queued');
      expect(h.jetstream.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: id }, msgId: id }]);
      expect([h.metrics.claimed.value(), h.metrics.registered.value(), h.metrics.duplicates.value()]).toEqual([1, 1, 0]);
      expect(h.folder.writerScans).toBe(1);
    });

    it('gives every claim a fresh file id', async () => {
      const h = harness();
      h.folder.entries.set('incoming/a.csv', file('a'));
      h.folder.entries.set('incoming/b.csv', file('b'));

      await Promise.all([h.claims.claimIncoming('a.csv'), h.claims.claimIncoming('b.csv')]);

      const ids = h.ledger.registered.map((e) => e.id);
      expect(new Set(ids).size).toBe(2);
      expect(ids).toEqual(expect.arrayContaining([h.claimedId('a.csv'), h.claimedId('b.csv')]));
      expect(h.metrics.registered.value()).toBe(2);
    });

    it('files a duplicate in processed/ first and announces it on files.duplicate only once moved', async () => {
      const h = harness();
      const earlier = h.ledger.add({ id: '00000000-0000-4000-8000-000000000001', status: 'processed', sha256: sha('a') });
      h.folder.entries.set('incoming/again.csv', file('a'));

      await h.claims.claimIncoming('again.csv');

      const id = h.ledger.registered[0].id;
      expect(h.ledger.rows.get(id)).toEqual(expect.objectContaining({ status: 'duplicate', duplicateOf: earlier.id, storedPath: 'processed/again.csv' }));
      expect(h.folder.entries.has('processed/again.csv')).toBe(true);
      expect(h.journal).toEqual([`register ${id} duplicate`, `move processing/${id}__again.csv → processed/again.csv`, `ledger ${id} at processed/again.csv`, `publish ${FileSubjects.duplicate} ${id}.duplicate`]);
      expect(h.jetstream.sent[0].payload).toEqual(expect.objectContaining({ fileId: id, status: 'duplicate', duplicateOf: earlier.id }));
      expect([h.metrics.duplicates.value(), h.metrics.registered.value(), h.metrics.moved.value({ outcome: 'duplicate' })]).toEqual([1, 0, 1]);
      expect(log).toHaveBeenCalledWith(`${id} (again.csv) duplicates ${earlier.id}`);
    });

    it('names "an earlier file" when the row it repeats left the live states before the ledger could name it', async () => {
      const h = harness();
      h.ledger.add({ id: '00000000-0000-4000-8000-000000000001', status: 'processed', sha256: sha('a') });
      h.ledger.originalGone = true;
      h.folder.entries.set('incoming/again.csv', file('a'));

      await h.claims.claimIncoming('again.csv');

      const id = h.ledger.registered[0].id;
      expect(log).toHaveBeenCalledWith(`${id} (again.csv) duplicates an earlier file`);
      expect(h.folder.entries.has('processed/again.csv')).toBe(true);
      expect(h.jetstream.sent.map((s) => s.subject)).toEqual([FileSubjects.duplicate]);
      expect(h.metrics.duplicates.value()).toBe(1);
    });

    it('does nothing when the file is gone before the rename (another watcher claimed it)', async () => {
      const h = harness();

      await h.claims.claimIncoming('gone.csv');

      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
      expect(h.folder.hashed).toEqual([]);
      expect(h.folder.writerScans).toBe(0);
      expect(h.metrics.claimed.value()).toBe(0);
    });

    it.each<EntryType>(['symlink', 'fifo'])('moves an entry that turned into a %s before the claim as-is to quarantine/ and registers nothing', async (type) => {
      const h = harness();
      h.folder.entries.set('incoming/odd.csv', file('a', { type }));

      await h.claims.claimIncoming('odd.csv');

      expect(h.folder.entries.get('quarantine/odd.csv')?.type).toBe(type);
      expect(h.folder.quarantineReasons).toEqual(['incoming/odd.csv turned into a non-regular file before it was claimed; it was never read']);
      expect(h.metrics.irregular.value({ type })).toBe(1);
      expect(h.metrics.claimed.value()).toBe(0);
      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
    });

    it('counts no quarantined entry when the irregular entry is gone before it can be moved', async () => {
      const h = harness();
      h.folder.claimError = new StorageException('not_regular_file', 'incoming/odd.csv is a symlink');

      await h.claims.claimIncoming('odd.csv');

      expect(h.folder.quarantineReasons).toEqual([]);
      expect(h.metrics.irregular.counts.size).toBe(0);
      expect(warn).not.toHaveBeenCalled();
      expect(h.ledger.registered).toEqual([]);
    });

    it.each([
      ['an unsafe directory on the way', new StorageException('unsafe_directory', 'incoming/sub goes through a symlink')],
      ['a path that leaves incoming/', new StorageException('unsafe_path', 'stored path escapes')],
      ['a failing rename', errno('EACCES')],
    ])('throws on %s and registers nothing', async (_what, error) => {
      const h = harness();
      h.folder.entries.set('incoming/a.csv', file('a'));
      h.folder.claimError = error;

      await expect(h.claims.claimIncoming('a.csv')).rejects.toBe(error);

      expect(h.folder.entries.has('incoming/a.csv')).toBe(true);
      expect(h.folder.quarantineReasons).toEqual([]);
      expect(h.ledger.registered).toEqual([]);
      expect(h.metrics.claimed.value()).toBe(0);
    });

    it('registers the file and throws nothing when announcing it fails: the row stays queued for the requeue', async () => {
      const h = harness();
      h.folder.entries.set('incoming/a.csv', file('a'));
      h.jetstream.failOn = () => true;
      const failuresBefore = await publishFailures(FileSubjects.queued);

      await expect(h.claims.claimIncoming('a.csv')).resolves.toBeUndefined();

      const id = h.claimedId('a.csv');
      expect(h.ledger.rows.get(id)?.status).toBe('queued');
      expect(h.jetstream.sent).toEqual([]);
      expect(h.metrics.registered.value()).toBe(1);
      expect(await publishFailures(FileSubjects.queued)).toBe(failuresBefore + 1);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`1 of 1 publish(es) failed, the first ${id} on ${FileSubjects.queued} (TIMEOUT)`));
    });

    it('leaves a file still open for writing unregistered in processing/ and remembers its incoming name', async () => {
      const h = harness();
      h.folder.entries.set('incoming/growing.log', file('g'));
      h.folder.scan = async () => new Set([...h.folder.entries.keys()].filter((p) => p.endsWith('__growing.log')));

      await h.claims.claimIncoming('growing.log');

      const id = h.claimedId('growing.log');
      expect(h.claims.heldName(id)).toBe('growing.log');
      expect(h.claims.heldCount).toBe(1);
      expect(h.metrics.heldOpen.value()).toBe(1);
      expect(h.metrics.claimed.value()).toBe(1);
      expect(h.folder.hashed).toEqual([]);
      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
    });

    it('registers a file written elsewhere and renamed in (checkWriters false) without looking for writers', async () => {
      const h = harness();
      h.folder.entries.set('incoming/a.csv', file('a'));

      await h.claims.claimIncoming('a.csv', false);

      expect(h.folder.writerScans).toBe(0);
      expect(h.ledger.registered.map((e) => e.originalName)).toEqual(['a.csv']);
      expect(h.jetstream.sent.map((s) => s.subject)).toEqual([FileSubjects.queued]);
    });

    it('claims at most four files at once', async () => {
      const h = harness();
      let running = 0;
      let most = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      h.folder.onClaim = async () => {
        most = Math.max(most, ++running);
        await gate;
        running--;
      };
      for (let i = 0; i < 7; i++) h.folder.entries.set(`incoming/${i}.csv`, file(String(i)));

      const all = Promise.all([...Array(7).keys()].map((i) => h.claims.claimIncoming(`${i}.csv`)));
      await new Promise((resolve) => setImmediate(resolve));
      expect(running).toBe(4);
      release();
      await all;

      expect(most).toBe(4);
      expect(h.ledger.registered).toHaveLength(7);
    });
  });

  describe('registerStored', () => {
    const id = '00000000-0000-4000-8000-0000000000aa';
    const stored = `processing/${id}__a.csv`;

    it('forgets a held file once it is registered', async () => {
      const h = harness();
      h.folder.entries.set('incoming/a.csv', file('a'));
      h.folder.scan = async () => new Set([...h.folder.entries.keys()].filter((p) => p.startsWith('processing/')));
      await h.claims.claimIncoming('a.csv');
      const held = h.claimedId('a.csv');
      expect(h.claims.heldCount).toBe(1);

      await h.claims.registerStored(held, 'a.csv', `processing/${held}__a.csv`);

      expect(h.claims.heldName(held)).toBeUndefined();
      expect(h.claims.heldCount).toBe(0);
      expect(h.ledger.rows.get(held)?.status).toBe('queued');
      expect(h.jetstream.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: held }, msgId: held }]);
    });

    it.each([2, 3])('replaces a file with %i hard links by a private copy before hashing it, and counts it', async (links) => {
      const h = harness();
      h.folder.entries.set(stored, file('a', { links }));

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.folder.privateCopies).toEqual([stored]);
      expect(h.folder.entries.get(stored)?.links).toBe(1);
      expect(h.metrics.hardLinked.value()).toBe(1);
      expect(h.ledger.rows.get(id)?.status).toBe('queued');
      expect(warn).toHaveBeenCalledWith(`a.csv had ${links} hard links: stored as a private copy (${stored}), so its other names cannot change what is loaded`);
    });

    it('makes no copy of a file with one link', async () => {
      const h = harness();
      h.folder.entries.set(stored, file('a'));

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.folder.privateCopies).toEqual([]);
      expect(h.metrics.hardLinked.value()).toBe(0);
      expect(h.folder.hashed).toEqual([stored]);
    });

    it('registers the content hash, size and compression of the stored bytes', async () => {
      const h = harness();
      h.folder.entries.set(stored, file('z', { digest: { sha256: sha('z'), size: 4096, compression: 'gzip' } }));

      await h.claims.registerStored(id, 'a.csv.gz', stored);

      expect(h.ledger.registered).toEqual([{ id, source: 'dropzone', originalName: 'a.csv.gz', storedPath: stored, sha256: sha('z'), sizeBytes: 4096, compression: 'gzip' }]);
    });

    it.each([
      ['replaced by a symlink before the link check', (h: ReturnType<typeof harness>) => h.folder.entries.set(stored, file('a', { type: 'symlink' }))],
      ['replaced by a FIFO between the link check and the hash', (h: ReturnType<typeof harness>) => (h.folder.onHash = () => h.folder.entries.set(stored, file('a', { type: 'fifo' })))],
    ])('quarantines a file %s as-is and registers nothing', async (_when, change) => {
      const h = harness();
      h.folder.entries.set(stored, file('a'));
      change(h);

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.folder.entries.has(stored)).toBe(false);
      expect(h.folder.entries.has('quarantine/a.csv')).toBe(true);
      expect(h.folder.quarantineReasons).toEqual([`${stored} is not a regular file (replaced while being claimed); it was never read`]);
      expect(h.metrics.irregular.counts.size).toBe(1);
      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
    });

    it('throws when the stored file vanished from processing/, registering nothing', async () => {
      const h = harness();

      await expect(h.claims.registerStored(id, 'a.csv', stored)).rejects.toMatchObject({ code: 'ENOENT' });

      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
      expect(h.folder.quarantineReasons).toEqual([]);
    });

    it('throws a storage failure other than a non-regular file (an unsafe directory)', async () => {
      const h = harness();
      h.folder.entries.set(stored, file('a'));
      h.folder.onHash = () => {
        throw new StorageException('unsafe_directory', 'processing goes through a symlink');
      };

      await expect(h.claims.registerStored(id, 'a.csv', stored)).rejects.toMatchObject({ code: 'unsafe_directory' });

      expect(h.ledger.registered).toEqual([]);
      expect(h.folder.entries.has(stored)).toBe(true);
    });

    it('settles a row registered before that is terminal already (existing, processed): moves the file to processed/', async () => {
      const h = harness();
      h.ledger.add({ id, status: 'processed', sha256: sha('a'), storedPath: stored, originalName: 'a.csv' });
      h.folder.entries.set(stored, file('a'));

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.folder.entries.has('processed/a.csv')).toBe(true);
      expect(h.ledger.rows.get(id)?.storedPath).toBe('processed/a.csv');
      expect(h.metrics.moved.value({ outcome: 'processed' })).toBe(1);
      expect([h.metrics.registered.value(), h.metrics.duplicates.value()]).toEqual([0, 0]);
      expect(h.jetstream.sent).toEqual([]);
    });

    it('announces again a row registered before and still queued (existing), without counting or moving it', async () => {
      const h = harness();
      h.ledger.add({ id, status: 'queued', sha256: sha('a'), storedPath: stored });
      h.folder.entries.set(stored, file('a'));

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.jetstream.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: id }, msgId: id }]);
      expect(h.folder.entries.has(stored)).toBe(true);
      expect(h.metrics.registered.value()).toBe(0);
    });

    it('leaves a row registered before and being processed (existing) to its processor', async () => {
      const h = harness();
      h.ledger.add({ id, status: 'processing', sha256: sha('a'), storedPath: stored });
      h.folder.entries.set(stored, file('a'));

      await h.claims.registerStored(id, 'a.csv', stored);

      expect(h.jetstream.sent).toEqual([]);
      expect(h.folder.entries.has(stored)).toBe(true);
      expect(h.ledger.rows.get(id)?.storedPath).toBe(stored);
      expect(h.metrics.registered.value()).toBe(0);
    });
  });

  describe('quarantineIrregular', () => {
    it('moves an irregular entry of processing/ to quarantine/ and counts it by type', async () => {
      const h = harness();
      h.folder.entries.set('processing/sock', file('s', { type: 'socket' }));

      await h.claims.quarantineIrregular('processing/sock', 'is a socket in processing/');

      expect(h.folder.entries.get('quarantine/sock')?.type).toBe('socket');
      expect(h.folder.quarantineReasons).toEqual(['processing/sock is a socket in processing/; it was never read']);
      expect(h.metrics.irregular.value({ type: 'socket' })).toBe(1);
      expect(warn).toHaveBeenCalledWith('processing/sock is a socket: moved as-is to quarantine/sock');
    });
  });

  describe('openForWriting', () => {
    it('answers callers that ask together with one walk of /proc', async () => {
      const h = harness();
      h.folder.writers.add('processing/x__a.csv');

      const first = h.claims.openForWriting();
      const second = h.claims.openForWriting();

      expect(second).toBe(first);
      expect(await first).toEqual(new Set(['processing/x__a.csv']));
      expect(h.folder.writerScans).toBe(1);
    });

    it('makes a caller that asks while a walk is running wait for the next walk', async () => {
      const h = harness();
      let finishWalk!: (open: Set<string>) => void;
      h.folder.scan = () => new Promise((resolve) => (finishWalk = resolve));

      const running = h.claims.openForWriting();
      await new Promise((resolve) => setImmediate(resolve));
      expect(h.folder.writerScans).toBe(1);
      h.folder.scan = async () => new Set(['processing/later']);
      const next = h.claims.openForWriting();
      finishWalk(new Set(['processing/earlier']));

      expect(next).not.toBe(running);
      expect(await running).toEqual(new Set(['processing/earlier']));
      expect(await next).toEqual(new Set(['processing/later']));
      expect(h.folder.writerScans).toBe(2);
    });
  });
});
