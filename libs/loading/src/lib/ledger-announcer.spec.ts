import { Logger } from '@nestjs/common';
import { BatchSubjects, FileSubjects, MAX_BATCH_FILES, type FileSubject, type Subjects } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import type { JetStreamService } from '@sluice/messaging';
import { register } from 'prom-client';
import { LedgerAnnouncer, payloadBatches, type Registered } from './ledger-announcer';
import type { LedgerRepository, NewLedgerEntry, RegisterResult } from './ledger.repository';

/** Records what is published; `down` makes every publish fail as it does while NATS is down. */
class FakeJetStream implements Pick<JetStreamService, 'publish'> {
  readonly sent: Array<{ subject: FileSubject; payload: unknown; msgId: string }> = [];
  down = false;

  async publish<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string): Promise<void> {
    if (this.down) throw new Error('TIMEOUT');
    this.sent.push({ subject, payload, msgId });
  }
}

/** Answers `register` with the result a test sets. */
class FakeLedger implements Pick<LedgerRepository, 'register'> {
  next?: RegisterResult;

  async register(): Promise<RegisterResult> {
    if (!this.next) throw new Error('no result set');
    return this.next;
  }
}

let n = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
const entry = (over: Partial<NewLedgerEntry> = {}): NewLedgerEntry => {
  const id = uuid();
  return { id, source: 'api', originalName: `${id}.json`, storedPath: `processing/${id}__x.json`, sha256: 'a'.repeat(64), sizeBytes: 10, ...over };
};
/** The fields of a stored row the announcer reads. */
const row = (status: IngestFile['status'], over: Partial<IngestFile> = {}): IngestFile =>
  ({ ...entry(), sizeBytes: '10', status, kind: null, duplicateOf: null, rowsLoaded: '0', rowsRejected: '0', error: null, replays: 0, attempts: 0, ...over }) as IngestFile;
const failures = async (subject: FileSubject) => (await register.getSingleMetric('sluice_publish_failures_total')?.get())?.values.find((v) => v.labels['subject'] === subject)?.value ?? 0;

describe(LedgerAnnouncer.name, () => {
  let js: FakeJetStream;
  let ledger: FakeLedger;
  let sut: LedgerAnnouncer;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    js = new FakeJetStream();
    ledger = new FakeLedger();
    sut = new LedgerAnnouncer(ledger as unknown as LedgerRepository, js as unknown as JetStreamService);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  describe('announce', () => {
    it('queues files one message each and stored payloads together, and tells of duplicates', async () => {
      const file = entry();
      const payloads = [entry({ storedPath: 'database/p1', sizeBytes: 5 }), entry({ storedPath: 'database/p2', sizeBytes: 7 })];
      const dup = entry();
      const registered: Registered[] = [
        { file, status: 'queued' },
        { file: payloads[0], status: 'queued' },
        { file: dup, status: 'duplicate', duplicateOf: file.id },
        { file: entry(), status: 'existing' },
        { file: payloads[1], status: 'queued' },
      ];

      expect(await sut.announce(registered)).toBe(0);

      expect(js.sent).toEqual([
        { subject: FileSubjects.queued, payload: { fileId: file.id }, msgId: file.id },
        { subject: FileSubjects.duplicate, payload: { fileId: dup.id, status: 'duplicate', originalName: dup.originalName, duplicateOf: file.id, at: expect.any(String) }, msgId: `${dup.id}.duplicate` },
        { subject: BatchSubjects.queued, payload: { fileIds: payloads.map((p) => p.id), bytes: 12 }, msgId: `batch.${payloads[0].id}` },
      ]);
    });

    it('does not throw when publishes fail: counts them by subject and logs one line', async () => {
      js.down = true;
      const [queuedBefore, batchBefore] = [await failures(FileSubjects.queued), await failures(BatchSubjects.queued)];

      const failed = await sut.announce([
        { file: entry(), status: 'queued' },
        { file: entry(), status: 'queued' },
        { file: entry({ storedPath: 'database/p3' }), status: 'queued' },
      ]);

      expect(failed).toBe(3);
      expect(await failures(FileSubjects.queued)).toBe(queuedBefore + 2);
      expect(await failures(BatchSubjects.queued)).toBe(batchBefore + 1);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/^3 of 3 publish\(es\) failed, the first .* \(TIMEOUT\)/);
    });
  });

  describe('register', () => {
    it('announces a queued row as work', async () => {
      const queued = row('queued');
      ledger.next = { status: 'queued', row: queued };

      await expect(sut.register(entry())).resolves.toBe(ledger.next);

      expect(js.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: queued.id }, msgId: queued.id }]);
    });

    it('announces a duplicate unless its caller announces it after a move', async () => {
      const dup = row('duplicate', { duplicateOf: uuid() });
      ledger.next = { status: 'duplicate', row: dup, duplicateOf: dup.duplicateOf ?? '' };

      await sut.register(entry(), { announceDuplicate: false });
      expect(js.sent).toEqual([]);

      await sut.register(entry());
      expect(js.sent).toEqual([{ subject: FileSubjects.duplicate, payload: expect.objectContaining({ fileId: dup.id, status: 'duplicate', duplicateOf: dup.duplicateOf }), msgId: `${dup.id}.duplicate` }]);
    });

    it('announces a row registered before that is still queued, and nothing for one already further on', async () => {
      const waiting = row('queued');
      ledger.next = { status: 'existing', row: waiting };
      await sut.register(entry());
      ledger.next = { status: 'existing', row: row('processing') };
      await sut.register(entry());
      ledger.next = { status: 'existing', row: row('processed') };
      await sut.register(entry());

      expect(js.sent.map((s) => s.msgId)).toEqual([waiting.id]);
    });

    it('registers a file while NATS is down: the row is the answer, the failure is logged', async () => {
      js.down = true;
      ledger.next = { status: 'queued', row: row('queued') };

      await expect(sut.register(entry())).resolves.toBe(ledger.next);
      expect(warn).toHaveBeenCalledTimes(1);
    });
  });

  it('announces a requeued row under the id of that requeue, and says whether it went out', async () => {
    const queued = row('queued');
    expect(await sut.requeued(queued, `${queued.id}.replay.2`)).toBe(true);
    js.down = true;
    expect(await sut.requeued(queued, `${queued.id}.replay.3`)).toBe(false);
    expect(js.sent).toEqual([{ subject: FileSubjects.queued, payload: { fileId: queued.id }, msgId: `${queued.id}.replay.2` }]);
  });
});

describe(payloadBatches.name, () => {
  it('cuts payloads into messages of at most MAX_BATCH_FILES, in order', () => {
    const rows = Array.from({ length: MAX_BATCH_FILES + 1 }, (_, i) => ({ i, sizeBytes: 1 }));
    const batches = payloadBatches(rows);
    expect(batches.map((b) => b.length)).toEqual([MAX_BATCH_FILES, 1]);
    expect(batches.flat().map((r) => r.i)).toEqual(rows.map((r) => r.i));
  });

  it('cuts at MAX_BATCH_BYTES of bodies, one payload larger than that alone', () => {
    const mib = 1024 * 1024;
    expect(payloadBatches([{ sizeBytes: 5 * mib }, { sizeBytes: 3 * mib }, { sizeBytes: 1 }, { sizeBytes: '20000000' }, { sizeBytes: 1 }]).map((b) => b.length)).toEqual([2, 1, 1, 1]);
  });
});
