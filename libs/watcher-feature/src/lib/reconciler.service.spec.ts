import { Logger } from '@nestjs/common';
import { loadConfig, WatcherConfig } from '@sluice/config';
import { BatchSubjects, FileSubjects, isTerminal, MAX_BATCH_FILES } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { LedgerAnnouncer, type LedgerRepository, type NewLedgerEntry, type RegisterResult } from '@sluice/loading';
import type { JetStreamService } from '@sluice/messaging';
import { parseStoredName, StorageException, type DropAreas, type DropClaims, type OutcomeTarget, type IrregularQuarantine, type OutcomeFiling, type ProcessingEntry } from '@sluice/storage';
import type { Stats } from 'node:fs';
import { basename } from 'node:path';
import { errno, FakeCounter, FakeJetStream, sha } from '../../test/fakes';
import { ClaimService } from './claim.service';
import { FileLocks } from './concurrency.util';
import type { LedgerQueries } from './ledger-queries.repository';
import { OutcomeMover } from './outcome-mover.service';
import { Reconciler } from './reconciler.service';
import type { S3OutcomeSettler } from './s3-outcome-settler.service';
import type { WatcherMetrics } from './watcher.metrics';

// Reconciler's branches with typed fakes: no drop folder on disk, no PostgreSQL, no NATS. ClaimService,
// OutcomeMover and LedgerAnnouncer are the real ones over the same fakes, so that what a pass registers,
// files and publishes is what the test sees (watcher.int-spec.ts runs the whole watcher against the real services).

type ContentDigest = Awaited<ReturnType<DropClaims['sha256AndSize']>>;
type EntryType = IrregularQuarantine['type'];

interface FakeEntry {
  type: EntryType;
  digest: ContentDigest;
  /** When the entry last changed (a file not changed for the grace period is adopted). */
  ctimeMs: number;
}

let n = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
const ago = (ms: number) => Date.now() - ms;
/** An entry last changed a minute ago: long past any grace period. */
const file = (content: string, over: Partial<FakeEntry> = {}): FakeEntry => ({ type: 'file', digest: { sha256: sha(content), size: 10, compression: null }, ctimeMs: ago(60_000), ...over });

/** The drop folder by stored path (`incoming/…`, `processing/…`, `processed/…`, `quarantine/…`). */
class FakeFolder
  implements
    Pick<DropClaims, 'claim' | 'openForWriting' | 'ensurePrivate' | 'sha256AndSize' | 'quarantineIrregular' | 'listProcessing' | 'stat'>,
    Pick<OutcomeFiling, 'fileOutcome'>
{
  readonly entries = new Map<string, FakeEntry>();
  /** Stored paths some process holds open for writing. */
  readonly writers = new Set<string>();
  /** Original names of claimed files some process holds open for writing (their file id is not known up front). */
  readonly writing = new Set<string>();
  readonly quarantineReasons: string[] = [];
  readonly reports: unknown[] = [];
  /** Failures of a move out of processing/, by stored path (a target folder that cannot be written). */
  readonly filingErrors = new Map<string, Error>();
  /** stat errors other than a missing file, by stored path. */
  readonly statErrors = new Map<string, Error>();
  listings = 0;

  async listProcessing(): Promise<ProcessingEntry[]> {
    this.listings++;
    return [...this.entries]
      .filter(([p]) => p.startsWith('processing/'))
      .map(([storedPath, e]) => {
        const name = storedPath.slice('processing/'.length);
        const parsed = parseStoredName(name);
        return { storedPath, name, fileId: parsed?.fileId ?? null, originalBasename: parsed?.originalBasename ?? null, type: e.type, size: e.digest.size, mtimeMs: e.ctimeMs, ctimeMs: e.ctimeMs };
      });
  }

  async stat(storedPath: string): Promise<Stats> {
    const error = this.statErrors.get(storedPath);
    if (error) throw error;
    return { size: this.get(storedPath).digest.size } as Stats;
  }

  async claim(relativeIncomingPath: string, fileId: string): Promise<{ storedPath: string } | null> {
    const src = `incoming/${relativeIncomingPath}`;
    if (!this.entries.has(src)) return null;
    const storedPath = `processing/${fileId}__${basename(relativeIncomingPath)}`;
    this.move(src, storedPath);
    return { storedPath };
  }

  async openForWriting(): Promise<Set<string>> {
    const claimed = [...this.entries.keys()].filter((p) => this.writing.has(parseStoredName(basename(p))?.originalBasename ?? ''));
    return new Set([...this.writers, ...claimed]);
  }

  /** The stored path of the claimed file with this original name. */
  storedAs(name: string): string {
    const stored = [...this.entries.keys()].find((p) => p.startsWith('processing/') && p.endsWith(`__${name}`));
    if (!stored) throw new Error(`${name} is not in processing/`);
    return stored;
  }

  async ensurePrivate(storedPath: string): Promise<number> {
    this.get(storedPath);
    return 1;
  }

  async sha256AndSize(storedPath: string): Promise<ContentDigest> {
    return this.get(storedPath).digest;
  }

  async quarantineIrregular(rootRelativePath: string, reason: string): Promise<IrregularQuarantine | null> {
    const entry = this.entries.get(rootRelativePath);
    if (!entry) return null;
    if (entry.type === 'file' || entry.type === 'directory') throw new StorageException('not_regular_file', `${rootRelativePath} is a ${entry.type}; only irregular entries are quarantined this way`);
    const storedPath = `quarantine/${parseStoredName(basename(rootRelativePath))?.originalBasename ?? basename(rootRelativePath)}`;
    this.move(rootRelativePath, storedPath);
    this.quarantineReasons.push(reason);
    return { storedPath, type: entry.type };
  }

  /** A move repeated after the file already left processing/ finds it in its target, as OutcomeFiling does. */
  async fileOutcome(storedPath: string, target: OutcomeTarget, originalName: string, errorJson?: unknown): Promise<string> {
    const dest = `${target}/${originalName}`;
    const error = this.filingErrors.get(storedPath);
    if (error) throw error;
    if (!this.entries.has(storedPath)) {
      if (this.entries.has(dest)) return dest;
      throw new StorageException('missing', `${storedPath} is gone`);
    }
    this.move(storedPath, dest);
    if (errorJson !== undefined) this.reports.push(errorJson);
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

/** The ledger table, and the pages of stale rows `findStale` answers with. */
class FakeLedger implements Pick<LedgerRepository, 'register' | 'get' | 'setStoredPath' | 'findStale' | 'touchMany'> {
  readonly rows = new Map<string, IngestFile>();
  readonly registered: NewLedgerEntry[] = [];
  /** Pages findStale answers, one per call (then none). */
  stalePages: IngestFile[][] = [];
  readonly staleCalls: Array<[number, number | undefined]> = [];
  readonly touched: string[][] = [];
  /** Ids whose look-up fails (a dropped connection). */
  readonly failing = new Set<string>();

  add(over: Partial<IngestFile> & Pick<IngestFile, 'status'>): IngestFile {
    const id = over.id ?? uuid();
    const row = { id, source: 'dropzone', originalName: 'a.csv', storedPath: `processing/${id}__a.csv`, sha256: sha(id), sizeBytes: '10', compression: null, kind: null, duplicateOf: null, archiveId: null, error: null, rowsTotal: '0', rowsRejected: '0', finishedAt: null, updatedAt: new Date('2026-01-05T10:00:00.000Z'), ...over } as IngestFile;
    this.rows.set(row.id, row);
    return { ...row };
  }

  async register(entry: NewLedgerEntry): Promise<RegisterResult> {
    this.registered.push(entry);
    const existing = this.rows.get(entry.id);
    if (existing) return { status: 'existing', row: { ...existing } };
    const row = this.add({ ...entry, sizeBytes: String(entry.sizeBytes), status: 'queued', compression: entry.compression ?? null });
    return { status: 'queued', row: { ...row } };
  }

  async get(id: string): Promise<IngestFile | null> {
    if (this.failing.has(id)) throw new Error('connection terminated');
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }

  async setStoredPath(id: string, storedPath: string): Promise<void> {
    const row = this.rows.get(id);
    if (row) row.storedPath = storedPath;
  }

  async findStale(olderThanMs: number, limit?: number): Promise<IngestFile[]> {
    this.staleCalls.push([olderThanMs, limit]);
    return this.stalePages.shift() ?? [];
  }

  async touchMany(ids: readonly string[]): Promise<void> {
    this.touched.push([...ids]);
  }
}

/** The watcher's read-only queries, answered from FakeLedger's rows. */
class FakeQueries implements Pick<LedgerQueries, 'firstRowErrors' | 'hasPendingMembers' | 'terminalInProcessing' | 'queuedInProcessing'> {
  constructor(private readonly ledger: FakeLedger) {}

  async firstRowErrors(): ReturnType<LedgerQueries['firstRowErrors']> {
    return [];
  }

  async hasPendingMembers(): Promise<boolean> {
    return false;
  }

  async terminalInProcessing(): Promise<IngestFile[]> {
    return [...this.ledger.rows.values()].filter((r) => isTerminal(r.status) && r.storedPath.startsWith('processing/'));
  }

  async queuedInProcessing(): Promise<IngestFile[]> {
    return [...this.ledger.rows.values()].filter((r) => r.status === 'queued' && r.storedPath.startsWith('processing/'));
  }
}



type CounterName = 'claimed' | 'registered' | 'duplicates' | 'moved' | 'irregular' | 'heldOpen' | 'hardLinked' | 'orphans' | 'requeued';
type FakeMetrics = Record<CounterName, FakeCounter>;

function harness(env: NodeJS.ProcessEnv = {}) {
  const config = loadConfig(WatcherConfig, { REQUEUE_AFTER_MS: '120000', ...env });
  const folder = new FakeFolder();
  const ledger = new FakeLedger();
  const queries = new FakeQueries(ledger);
  const jetstream = new FakeJetStream();
  const metrics = Object.fromEntries(['claimed', 'registered', 'duplicates', 'moved', 'irregular', 'heldOpen', 'hardLinked', 'orphans', 'requeued'].map((k) => [k, new FakeCounter()])) as FakeMetrics;
  const watcherMetrics = metrics as unknown as WatcherMetrics;
  const locks = new FileLocks();
  const announcer = new LedgerAnnouncer(ledger as unknown as LedgerRepository, jetstream as unknown as JetStreamService);
  const mover = new OutcomeMover(folder as unknown as OutcomeFiling, ledger as unknown as LedgerRepository, queries as unknown as LedgerQueries, announcer, locks, watcherMetrics, {} as S3OutcomeSettler);
  const claims = new ClaimService(folder as unknown as DropClaims, announcer, mover, locks, watcherMetrics);
  const reconciler = new Reconciler(
    config,
    folder as unknown as DropAreas,
    ledger as unknown as LedgerRepository,
    queries as unknown as LedgerQueries,
    claims,
    mover,
    jetstream as unknown as JetStreamService,
    locks,
    watcherMetrics,
  );
  return { reconciler, claims, folder, ledger, jetstream, metrics };
}

/** A row waiting in the ledger, its updated_at set. */
const staleRow = (ledger: FakeLedger, over: Partial<IngestFile> = {}) => ledger.add({ status: 'queued', ...over });

describe(Reconciler.name, () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;
  const warnings = () => warn.mock.calls.map((c) => String(c[0]));

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  describe('reconcile: entries of processing/', () => {
    it('files a file whose row is processed into processed/ and points the ledger at it', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'processed', originalName: 'site-a/readings.csv' });
      h.folder.entries.set(row.storedPath, file('a'));

      await h.reconciler.reconcile();

      expect(h.folder.entries.has(row.storedPath)).toBe(false);
      expect(h.folder.entries.has('processed/site-a/readings.csv')).toBe(true);
      expect(h.ledger.rows.get(row.id)?.storedPath).toBe('processed/site-a/readings.csv');
      expect(h.metrics.moved.value({ outcome: 'processed' })).toBe(1);
      expect(h.jetstream.sent).toEqual([]);
    });

    it.each(['quarantined', 'failed'] as const)('files a file whose row is %s into quarantine/ with its error report', async (status) => {
      const h = harness();
      const error = { rule: 'header_missing', message: 'no header row' };
      const row = h.ledger.add({ status, error });
      h.folder.entries.set(row.storedPath, file('a'));

      await h.reconciler.reconcile();

      expect(h.folder.entries.has('quarantine/a.csv')).toBe(true);
      expect(h.ledger.rows.get(row.id)?.storedPath).toBe('quarantine/a.csv');
      expect(h.folder.reports).toEqual([expect.objectContaining({ fileId: row.id, status, error, rowErrors: [] })]);
      expect(h.metrics.moved.value({ outcome: status })).toBe(1);
    });

    it('files a duplicate left in processing/ and announces it as a duplicate once moved', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'duplicate', duplicateOf: uuid() });
      h.folder.entries.set(row.storedPath, file('a'));

      await h.reconciler.reconcile();

      expect(h.ledger.rows.get(row.id)?.storedPath).toBe('processed/a.csv');
      expect(h.jetstream.sent).toEqual([{ subject: FileSubjects.duplicate, payload: expect.objectContaining({ fileId: row.id, status: 'duplicate', duplicateOf: row.duplicateOf }), msgId: `${row.id}.duplicate` }]);
    });

    it.each(['queued', 'processing'] as const)('leaves a file whose row is %s to the processor', async (status) => {
      const h = harness();
      const row = h.ledger.add({ status });
      h.folder.entries.set(row.storedPath, file('a'));

      await h.reconciler.reconcile();

      expect(h.folder.entries.has(row.storedPath)).toBe(true);
      expect(h.ledger.rows.get(row.id)?.storedPath).toBe(row.storedPath);
      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
    });

    it('registers a file in processing/ without a ledger row (a claim interrupted before the insert) under its original name, and announces it', async () => {
      const h = harness();
      const id = uuid();
      h.folder.entries.set(`processing/${id}__readings.csv`, file('a'));

      await h.reconciler.reconcile();

      expect(h.ledger.registered).toEqual([expect.objectContaining({ id, originalName: 'readings.csv', storedPath: `processing/${id}__readings.csv`, sha256: sha('a'), source: 'dropzone' })]);
      expect(h.jetstream.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: id }, msgId: id }]);
      expect([h.metrics.orphans.value(), h.metrics.registered.value()]).toEqual([1, 1]);
      expect(warnings()).toContain(`processing/${id}__readings.csv has no ledger row: registering it now`);
    });

    it('leaves a file without a row that changed within the grace period (another watcher may be between rename and insert), and registers it once settled', async () => {
      const h = harness();
      const id = uuid();
      const entry = file('a', { ctimeMs: Date.now() });
      h.folder.entries.set(`processing/${id}__a.csv`, entry);

      await h.reconciler.reconcile();
      expect(h.ledger.registered).toEqual([]);
      expect(h.metrics.orphans.value()).toBe(0);

      entry.ctimeMs = ago(60_000);
      await h.reconciler.reconcile();
      expect(h.ledger.registered.map((e) => e.id)).toEqual([id]);
    });

    it.each([
      ['1000', 1_500, false],
      ['1000', 2_500, true],
      ['10000', 5_000, false],
      ['10000', 11_000, true],
    ])('with STABILITY_WINDOW_MS=%s adopts a file without a row %i ms after its last change: %s (grace: the longer of 2 s and the window)', async (window, age, adopted) => {
      const h = harness({ STABILITY_WINDOW_MS: window });
      h.folder.entries.set(`processing/${uuid()}__a.csv`, file('a', { ctimeMs: ago(age) }));

      await h.reconciler.reconcile();

      expect(h.ledger.registered).toHaveLength(adopted ? 1 : 0);
      expect(h.metrics.orphans.value()).toBe(adopted ? 1 : 0);
    });

    it('leaves a file without a row that a process still holds open for writing', async () => {
      const h = harness();
      const stored = `processing/${uuid()}__growing.log`;
      h.folder.entries.set(stored, file('g'));
      h.folder.writers.add(stored);

      await h.reconciler.reconcile();

      expect(h.folder.entries.has(stored)).toBe(true);
      expect(h.ledger.registered).toEqual([]);
      expect(h.metrics.orphans.value()).toBe(0);
    });

    it('registers a claimed file held open by its writer under its incoming name once the writer closes it, not as an orphan', async () => {
      const h = harness();
      h.folder.entries.set('incoming/site-a/growing.log', file('g'));
      h.folder.writing.add('growing.log');
      await h.claims.claimIncoming('site-a/growing.log');
      const stored = h.folder.storedAs('growing.log');
      const id = parseStoredName(basename(stored))?.fileId as string;
      expect(h.claims.heldName(id)).toBe('site-a/growing.log');
      h.folder.entries.get(stored)!.ctimeMs = ago(60_000);

      await h.reconciler.reconcile();
      expect(h.ledger.registered).toEqual([]);

      h.folder.writing.clear();
      await h.reconciler.reconcile();

      expect(h.ledger.registered).toEqual([expect.objectContaining({ id, originalName: 'site-a/growing.log', storedPath: stored })]);
      expect(h.claims.heldCount).toBe(0);
      expect(h.metrics.orphans.value()).toBe(0);
      expect(log).toHaveBeenCalledWith(`${stored} (incoming/site-a/growing.log) is closed by its writer: registering it now`);
      expect(h.jetstream.sent.map((s) => s.msgId)).toEqual([id]);
    });

    it.each(['.hidden.csv', `${'0'.repeat(8)}-0000-4000-8000-${'f'.repeat(12)}__upload.csv.part`, 'report.tmp', 'page.crdownload'])('leaves %s alone: a name writers use while writing', async (name) => {
      const h = harness();
      h.folder.entries.set(`processing/${name}`, file('a'));
      h.folder.entries.set(`processing/.fifo.tmp`, file('b', { type: 'fifo' }));

      await h.reconciler.reconcile();

      expect(h.folder.entries.has(`processing/${name}`)).toBe(true);
      expect(h.folder.entries.has('processing/.fifo.tmp')).toBe(true);
      expect(h.ledger.registered).toEqual([]);
      expect(h.folder.quarantineReasons).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
    });

    it.each<EntryType>(['symlink', 'fifo', 'socket', 'char-device'])('moves a %s in processing/ as-is to quarantine/ once settled', async (type) => {
      const h = harness();
      const id = uuid();
      h.folder.entries.set(`processing/${id}__odd`, file('a', { type }));

      await h.reconciler.reconcile();

      expect(h.folder.entries.get('quarantine/odd')?.type).toBe(type);
      expect(h.folder.quarantineReasons).toEqual([`processing/${id}__odd is a ${type} in processing/; it was never read`]);
      expect(h.metrics.irregular.value({ type })).toBe(1);
      expect(h.ledger.registered).toEqual([]);
    });

    it('leaves a directory in processing/ where it is (it cannot be quarantined as-is) and warns about it once', async () => {
      const h = harness();
      const stored = `processing/${uuid()}__folder`;
      h.folder.entries.set(stored, file('a', { type: 'directory' }));

      await h.reconciler.reconcile();
      await h.reconciler.reconcile();

      expect(h.folder.entries.has(stored)).toBe(true);
      expect(h.metrics.irregular.counts.size).toBe(0);
      expect(warnings()).toEqual([`reconciling ${stored} failed: ${stored} is a directory; only irregular entries are quarantined this way`]);
    });

    it('leaves an irregular entry that changed within the grace period', async () => {
      const h = harness();
      const stored = `processing/${uuid()}__odd`;
      h.folder.entries.set(stored, file('a', { type: 'symlink', ctimeMs: Date.now() }));

      await h.reconciler.reconcile();

      expect(h.folder.entries.has(stored)).toBe(true);
      expect(h.folder.quarantineReasons).toEqual([]);
      expect(h.metrics.irregular.counts.size).toBe(0);
    });

    it('leaves a file not named <fileId>__<name> alone and warns about it once', async () => {
      const h = harness();
      h.folder.entries.set('processing/stray.csv', file('a'));

      await h.reconciler.reconcile();
      await h.reconciler.reconcile();

      expect(h.folder.entries.has('processing/stray.csv')).toBe(true);
      expect(h.ledger.registered).toEqual([]);
      expect(warnings()).toEqual(['processing/stray.csv is not named <fileId>__<name>; left alone']);
    });

    it('warns once about an entry that cannot be reconciled and goes on with the others', async () => {
      const h = harness();
      const broken = h.ledger.add({ status: 'queued' });
      const fine = h.ledger.add({ status: 'processed', originalName: 'b.csv' });
      h.folder.entries.set(broken.storedPath, file('a'));
      h.folder.entries.set(fine.storedPath, file('b'));
      h.ledger.failing.add(broken.id);
      const brokenName = broken.storedPath.slice('processing/'.length);

      await expect(h.reconciler.reconcile()).resolves.toBeUndefined();
      await h.reconciler.reconcile();

      expect(h.ledger.rows.get(fine.id)?.storedPath).toBe('processed/b.csv');
      expect(h.folder.entries.has(broken.storedPath)).toBe(true);
      expect(warnings().filter((w) => w.includes(brokenName))).toEqual([`reconciling ${broken.storedPath} failed: connection terminated`]);
    });

    it('forgets what it warned about once it remembers more than 10000 warnings, and warns again', async () => {
      const h = harness();
      const stray = (i: number) => `processing/stray-${i}.csv`;
      for (let i = 0; i <= 10001; i++) h.folder.entries.set(stray(i), file('a'));

      await h.reconciler.reconcile();
      expect(warn).toHaveBeenCalledTimes(10002);

      // The memory was cleared at the 10002nd warning: only that one is still remembered.
      for (let i = 1; i <= 10000; i++) h.folder.entries.delete(stray(i));
      warn.mockClear();
      await h.reconciler.reconcile();

      expect(warnings()).toEqual([`${stray(0)} is not named <fileId>__<name>; left alone`]);
    });
  });

  describe('reconcile: terminal rows still pointing into processing/', () => {
    it('points the ledger at the file a move interrupted after it left processing/', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'processed', originalName: 'moved.csv' });
      h.folder.entries.set('processed/moved.csv', file('a'));

      await h.reconciler.reconcile();

      expect(h.ledger.rows.get(row.id)?.storedPath).toBe('processed/moved.csv');
      expect(h.metrics.moved.value({ outcome: 'processed' })).toBe(1);
    });

    it('leaves the ledger as is and warns once when the file is in neither place', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'quarantined' });

      await h.reconciler.reconcile();
      await h.reconciler.reconcile();

      expect(h.ledger.rows.get(row.id)?.storedPath).toBe(row.storedPath);
      expect(h.metrics.moved.counts.size).toBe(0);
      expect(warnings()).toEqual([`file ${row.id} (quarantined) is gone from ${row.storedPath} and not found in quarantine/; ledger left as is`]);
    });
  });

  describe('reconcile: requeue of stale rows', () => {
    it('goes on to the requeue when a terminal row in processing/ cannot be filed: the row is warned about and stays', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'processed' });
      h.folder.entries.set(row.storedPath, file('a'));
      h.folder.filingErrors.set(row.storedPath, errno('EACCES'));
      const stale = staleRow(h.ledger, { storedPath: `database/${uuid()}` });
      h.ledger.stalePages = [[stale]];

      await h.reconciler.reconcile();

      // The entry pass and the pass over terminalInProcessing() each warned once, and the stale row went out.
      expect(warnings().slice(0, 2)).toEqual([`reconciling ${row.storedPath} failed: EACCES: operation failed`, `filing ${row.id} failed: EACCES: operation failed`]);
      expect(warnings()[2]).toMatch(/^1 queued\/processing item\(s\) unchanged .*: published again$/);
      expect(h.ledger.staleCalls).toHaveLength(1);
      expect(h.jetstream.sent.map((m) => m.subject)).toEqual([BatchSubjects.queued]);
      expect(h.ledger.rows.get(row.id)?.storedPath).toBe(row.storedPath);
    });

    it('publishes stale files again on files.queued under their requeue msg id, touches them and counts them', async () => {
      const h = harness({ REQUEUE_AFTER_MS: '90000' });
      const rows = [
        staleRow(h.ledger, { updatedAt: new Date('2026-01-05T10:00:00.000Z') }),
        staleRow(h.ledger, { status: 'processing', updatedAt: new Date('2026-01-05T10:00:01.000Z') }),
      ];
      for (const r of rows) h.folder.entries.set(r.storedPath, file(r.id));
      h.ledger.stalePages = [rows];

      await h.reconciler.reconcile();

      expect(h.ledger.staleCalls).toEqual([[90000, MAX_BATCH_FILES]]);
      expect(h.jetstream.sent).toEqual(rows.map((r) => ({ subject: FileSubjects.queued, payload: { fileId: r.id }, msgId: `${r.id}.requeue.${r.updatedAt.getTime()}` })));
      expect(h.ledger.touched).toEqual([rows.map((r) => r.id)]);
      expect(h.metrics.requeued.value()).toBe(2);
      expect(warnings()).toEqual(['2 queued/processing item(s) unchanged for 90000 ms (the oldest since 2026-01-05T10:00:00.000Z): published again']);
    });

    it('publishes stale payloads stored in the database together on batches.queued under a batch requeue msg id', async () => {
      const h = harness();
      const payloads = [0, 1, 2].map((i) => staleRow(h.ledger, { storedPath: `database/${uuid()}`, sizeBytes: String(10 + i), updatedAt: new Date(Date.UTC(2026, 0, 5, 10, 0, i)) }));
      h.ledger.stalePages = [payloads];

      await h.reconciler.reconcile();

      expect(h.jetstream.sent).toEqual([
        { subject: BatchSubjects.queued, payload: { fileIds: payloads.map((p) => p.id), bytes: 33 }, msgId: `batch.requeue.${payloads[0].id}.${payloads[0].updatedAt.getTime()}.3` },
      ]);
      expect(h.ledger.touched).toEqual([payloads.map((p) => p.id)]);
      expect(h.metrics.requeued.value()).toBe(3);
    });

    it('publishes payloads first, then files, and touches them all in one call', async () => {
      const h = harness();
      const f = staleRow(h.ledger);
      const p = staleRow(h.ledger, { storedPath: `database/${uuid()}` });
      h.folder.entries.set(f.storedPath, file('a'));
      h.ledger.stalePages = [[f, p]];

      await h.reconciler.reconcile();

      expect(h.jetstream.sent.map((s) => s.subject)).toEqual([BatchSubjects.queued, FileSubjects.queued]);
      expect(h.ledger.touched).toEqual([[p.id, f.id]]);
    });

    it('skips a stale row whose file is gone from processing/ (no data invented), leaves it untouched and warns once', async () => {
      const h = harness();
      const gone = staleRow(h.ledger);
      const present = staleRow(h.ledger);
      h.folder.entries.set(present.storedPath, file('b'));
      h.ledger.stalePages = [[gone, present], [gone]];

      await h.reconciler.reconcile();
      await h.reconciler.reconcile();

      expect(h.jetstream.sent.map((s) => s.payload)).toEqual([{ fileId: present.id }]);
      expect(h.ledger.touched).toEqual([[present.id], []]);
      expect(h.metrics.requeued.value()).toBe(1);
      expect(warnings().filter((w) => w.includes(gone.id))).toEqual([`ledger row ${gone.id} is queued but ${gone.storedPath} does not exist; left for a person (no data invented)`]);
      expect(h.ledger.rows.get(gone.id)?.status).toBe('queued');
    });

    it.each([
      ['a drop-folder file that cannot be inspected (EACCES)', 'processing', (h: ReturnType<typeof harness>, r: IngestFile) => h.folder.statErrors.set(r.storedPath, errno('EACCES'))],
      ['an object-store key, which cannot be checked here', 's3', () => undefined],
    ])('assumes %s is present and publishes it again', async (_what, area, setUp) => {
      const h = harness();
      const r = staleRow(h.ledger, area === 's3' ? { storedPath: 's3/minio/sensors/etag/a.csv' } : {});
      setUp(h, r);
      h.ledger.stalePages = [[r]];

      await h.reconciler.reconcile();

      expect(h.jetstream.sent.map((s) => s.msgId)).toEqual([`${r.id}.requeue.${r.updatedAt.getTime()}`]);
      expect(h.ledger.touched).toEqual([[r.id]]);
    });

    it('stops the pass at a failed publish: nothing of the page is touched or counted, and the next pass publishes them again', async () => {
      const h = harness();
      const rows = [staleRow(h.ledger), staleRow(h.ledger)];
      for (const r of rows) h.folder.entries.set(r.storedPath, file(r.id));
      h.ledger.stalePages = [rows, rows];
      h.jetstream.failOn = (msgId) => msgId.startsWith(rows[1].id);

      await expect(h.reconciler.reconcile()).rejects.toThrow('TIMEOUT');

      expect(h.jetstream.sent.map((s) => s.payload)).toEqual([{ fileId: rows[0].id }]);
      expect(h.ledger.touched).toEqual([]);
      expect(h.metrics.requeued.value()).toBe(0);

      h.jetstream.failOn = undefined;
      await h.reconciler.reconcile();

      expect(h.jetstream.sent.map((s) => s.payload)).toEqual([{ fileId: rows[0].id }, { fileId: rows[0].id }, { fileId: rows[1].id }]);
      expect(h.ledger.touched).toEqual([rows.map((r) => r.id)]);
      expect(h.metrics.requeued.value()).toBe(2);
    });

    it('stops the pass at a failed batch publish before any file of the page goes out', async () => {
      const h = harness();
      const f = staleRow(h.ledger);
      const p = staleRow(h.ledger, { storedPath: `database/${uuid()}` });
      h.folder.entries.set(f.storedPath, file('a'));
      h.ledger.stalePages = [[f, p]];
      h.jetstream.failOn = (msgId) => msgId.startsWith('batch.requeue.');

      await expect(h.reconciler.reconcile()).rejects.toThrow('TIMEOUT');

      expect(h.jetstream.sent).toEqual([]);
      expect(h.ledger.touched).toEqual([]);
    });

    it('goes on page after page while pages are full, touching each page before asking for the next', async () => {
      const h = harness();
      const full = Array.from({ length: MAX_BATCH_FILES }, () => staleRow(h.ledger, { storedPath: `database/${uuid()}`, sizeBytes: '1' }));
      const last = staleRow(h.ledger, { updatedAt: new Date('2026-01-05T10:05:00.000Z') });
      h.folder.entries.set(last.storedPath, file('a'));
      h.ledger.stalePages = [full, [last]];

      await h.reconciler.reconcile();

      expect(h.ledger.staleCalls).toHaveLength(2);
      expect(h.ledger.touched).toEqual([full.map((r) => r.id), [last.id]]);
      expect(h.metrics.requeued.value()).toBe(MAX_BATCH_FILES + 1);
      expect(warnings()).toEqual([expect.stringMatching(new RegExp(`^${MAX_BATCH_FILES + 1} queued/processing item\\(s\\) unchanged for 120000 ms \\(the oldest since ${full[0].updatedAt.toISOString()}\\)`))]);
    });

    it('stops a pass after 50 full pages; the next rescan goes on', async () => {
      const h = harness();
      const page = Array.from({ length: MAX_BATCH_FILES }, () => staleRow(h.ledger, { storedPath: `database/${uuid()}`, sizeBytes: '1' }));
      h.ledger.stalePages = Array.from({ length: 60 }, () => page);

      await h.reconciler.reconcile();

      expect(h.ledger.staleCalls).toHaveLength(50);
      expect(h.ledger.touched).toHaveLength(50);
      expect(h.metrics.requeued.value()).toBe(50 * MAX_BATCH_FILES);
      expect(h.ledger.stalePages).toHaveLength(10);
    });

    it('counts and logs nothing when no row is stale', async () => {
      const h = harness();

      await h.reconciler.reconcile();

      expect(h.ledger.staleCalls).toHaveLength(1);
      expect(h.ledger.touched).toEqual([[]]);
      expect(h.metrics.requeued.counts.size).toBe(0);
      expect(h.jetstream.sent).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
    });
  });

  describe('reconcile: queued rows whose file should be in processing/', () => {
    it('warns once about a queued row whose file is missing and leaves the row as it is', async () => {
      const h = harness();
      const row = h.ledger.add({ status: 'queued' });
      const present = h.ledger.add({ status: 'queued' });
      h.folder.entries.set(present.storedPath, file('p'));

      await h.reconciler.reconcile();
      await h.reconciler.reconcile();

      expect(warnings()).toEqual([`ledger row ${row.id} is queued but ${row.storedPath} does not exist; left for a person (no data invented)`]);
      expect(h.ledger.rows.get(row.id)).toEqual(expect.objectContaining({ status: 'queued', storedPath: row.storedPath }));
      expect(h.ledger.registered).toEqual([]);
      expect(h.jetstream.sent).toEqual([]);
    });
  });

  describe('adoptHeld', () => {
    it('does not list processing/ when no claimed file waits for its writer', async () => {
      const h = harness();
      h.folder.entries.set(`processing/${uuid()}__orphan.csv`, file('o'));

      await h.reconciler.adoptHeld();

      expect(h.folder.listings).toBe(0);
      expect(h.ledger.registered).toEqual([]);
    });

    it('registers held files their writers have closed, and only those', async () => {
      const h = harness();
      h.folder.entries.set('incoming/growing.log', file('g'));
      h.folder.writing.add('growing.log');
      await h.claims.claimIncoming('growing.log');
      expect(h.claims.heldCount).toBe(1);
      const stored = h.folder.storedAs('growing.log');
      h.folder.entries.get(stored)!.ctimeMs = ago(60_000);
      const orphan = `processing/${uuid()}__orphan.csv`;
      h.folder.entries.set(orphan, file('o'));
      h.folder.entries.set('processing/stray.csv', file('s'));
      h.folder.writing.clear();
      warn.mockClear();

      await h.reconciler.adoptHeld();

      expect(h.ledger.registered).toEqual([expect.objectContaining({ originalName: 'growing.log', storedPath: stored })]);
      expect(h.claims.heldCount).toBe(0);
      expect(h.folder.entries.has(orphan)).toBe(true);
      expect(h.metrics.orphans.value()).toBe(0);
      expect(warn).not.toHaveBeenCalled();
    });

    it('leaves a held file whose writer still holds it open', async () => {
      const h = harness();
      h.folder.entries.set('incoming/growing.log', file('g'));
      h.folder.writing.add('growing.log');
      await h.claims.claimIncoming('growing.log');
      const stored = h.folder.storedAs('growing.log');
      h.folder.entries.get(stored)!.ctimeMs = ago(60_000);

      await h.reconciler.adoptHeld();

      expect(h.ledger.registered).toEqual([]);
      expect(h.claims.heldCount).toBe(1);
    });

    it('warns once about a held file that cannot be registered, and does not throw', async () => {
      const h = harness();
      h.folder.entries.set('incoming/growing.log', file('g'));
      h.folder.writing.add('growing.log');
      await h.claims.claimIncoming('growing.log');
      const stored = h.folder.storedAs('growing.log');
      const id = parseStoredName(basename(stored))?.fileId as string;
      h.folder.entries.get(stored)!.ctimeMs = ago(60_000);
      h.folder.writing.clear();
      h.ledger.failing.add(id);
      warn.mockClear();

      await expect(h.reconciler.adoptHeld()).resolves.toBeUndefined();
      await h.reconciler.adoptHeld();

      expect(warnings()).toEqual([`reconciling ${stored} failed: connection terminated`]);
      expect(h.ledger.registered).toEqual([]);
      expect(h.claims.heldCount).toBe(1);
    });
  });
});
