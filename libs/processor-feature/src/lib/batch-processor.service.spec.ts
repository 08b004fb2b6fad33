import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import { BatchSubjects, FileSubjects, type FileBatchFinishedMessage, type RejectReason } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { refusedOutcome, type FileOutcome, type LedgerRepository, type PayloadBatchLoader, type StoredPayloads } from '@sluice/loading';
import type { JetStreamService } from '@sluice/messaging';
import type { DataSource } from 'typeorm';
import { BatchProcessorService } from './batch-processor.service';
import type { FileProcessorService } from './file-processor.service';
import { ledgerRow } from '../../test/ledger-row';
import { processorAttempts } from './processor-attempts';

/** A ledger row of an API payload. */
function payloadRow(attempts: number, status: IngestFile['status'] = 'processing'): IngestFile {
  return ledgerRow(attempts, { source: 'api', originalName: 'payload.json', storedPath: 'db:payload', sizeBytes: '2', status });
}

const PROCESSED: FileOutcome = { status: 'processed', kind: 'measurement', rowsTotal: 1, rowsLoaded: 1, rowsRejected: 0, rowsWritten: { measurements: 1 }, error: null };

/**
 * BatchProcessorService over typed fakes: rows the ledger hands out (`taken`) or holds (`others`), bodies, a
 * batch loader, and what was published and failed.
 */
function harness({ maxAttempts = 2, load }: { maxAttempts?: number; load?: (ids: string[]) => Promise<Map<string, FileOutcome>> } = {}) {
  const attempts = processorAttempts(loadConfig(ProcessorConfig, { MAX_ATTEMPTS: String(maxAttempts) }));
  const state = { taken: [] as IngestFile[], others: [] as IngestFile[], bodies: new Map<string, Buffer>() };
  const statements: string[] = [];
  const failed: Array<{ id: string; reason: RejectReason }> = [];
  const finished: Array<{ id: string; outcome: FileOutcome; firstAttempt: boolean }> = [];
  const published: Array<{ subject: string; payload: object; msgId: string }> = [];
  /** Ids the attempt was counted for before their load (startAttempts). */
  const counted: string[] = [];
  const locked = (rows: IngestFile[]) => rows.map((f) => ({ fileId: f.id, createdAt: new Date().toISOString(), originalName: f.originalName }));
  const ledger: Pick<LedgerRepository, 'startAttempts' | 'get' | 'lockManyForLoad' | 'recordOutcomes'> = {
    startAttempts: async (ids) => {
      const rows = state.taken.filter((f) => ids.includes(f.id));
      counted.push(...rows.map((f) => f.id));
      return rows;
    },
    get: async (id) => [...state.taken, ...state.others].find((f) => f.id === id) ?? null,
    lockManyForLoad: async (_sql, ids, opts) => locked(state.taken.filter((f) => ids.includes(f.id) && (!opts?.unattempted || (f.status === 'queued' && f.attempts === 0)))),
    recordOutcomes: async (_sql, outcomes, opts) => {
      finished.push(...outcomes.map((o) => ({ ...o, firstAttempt: opts?.firstAttempt ?? false })));
      return outcomes.map(({ id, outcome }) => ({ ...(state.taken.find((f) => f.id === id) as IngestFile), status: outcome.status, error: outcome.error }) as IngestFile);
    },
  };
  const payloads: Pick<StoredPayloads, 'readMany'> = {
    readMany: async (ids) => new Map(ids.flatMap((id) => (state.bodies.has(id) ? [[id, state.bodies.get(id) as Buffer] as const] : []))),
  };
  const loader: Pick<PayloadBatchLoader, 'load'> = {
    load: async (_client, batch) => (load ? load(batch.map((b) => b.fileId)) : new Map(batch.map((b) => [b.fileId, PROCESSED]))),
  };
  const files: Pick<FileProcessorService, 'fail' | 'loadOptions'> = {
    fail: async (id, reason) => void failed.push({ id, reason }),
    loadOptions: () => ({}) as ReturnType<FileProcessorService['loadOptions']>,
  };
  const client = { query: async (sql: string) => void statements.push(sql) };
  const ds: Pick<DataSource, 'createQueryRunner'> = {
    createQueryRunner: () => ({ connect: async () => client, release: async () => undefined }) as unknown as ReturnType<DataSource['createQueryRunner']>,
  };
  const jetstream: Pick<JetStreamService, 'publish'> = { publish: async (subject, payload, msgId) => void published.push({ subject, payload, msgId }) };
  const service = new BatchProcessorService(
    attempts,
    ds as DataSource,
    ledger as LedgerRepository,
    payloads as StoredPayloads,
    loader as PayloadBatchLoader,
    files as FileProcessorService,
    jetstream as JetStreamService,
  );
  /** Taken rows, each with a body. */
  const take = (...rows: IngestFile[]) => {
    for (const r of rows) {
      state.taken.push(r);
      state.bodies.set(r.id, Buffer.from('{}'));
    }
    return rows.map((r) => r.id);
  };
  const queuedAlone = () => published.filter((p) => p.subject === FileSubjects.queued).map((p) => p.msgId);
  const announced = () =>
    published.filter((p) => p.subject === BatchSubjects.finished).flatMap((p) => (p.payload as FileBatchFinishedMessage).events.map((e) => `${e.fileId}:${e.status}`));
  return { service, state, statements, failed, finished, published, counted, take, queuedAlone, announced };
}

const working = () => undefined;

describe(BatchProcessorService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('loads the payloads of a batch in one transaction and announces them with one message', async () => {
    const h = harness();
    const ids = h.take(payloadRow(1), payloadRow(1));
    await h.service.process(ids, working);
    expect(h.statements).toEqual(['BEGIN', 'COMMIT']);
    expect(h.finished.map((f) => f.id)).toEqual(ids);
    expect(h.announced()).toEqual(ids.map((id) => `${id}:processed`));
    expect(h.queuedAlone()).toEqual([]);
  });

  it('queues a payload another process holds (busy) alone, where the single-file path waits for its row', async () => {
    const h = harness();
    const held = payloadRow(1);
    h.state.others.push(held);
    const ids = h.take(payloadRow(1));
    await h.service.process([held.id, ...ids], working);
    expect(h.queuedAlone()).toEqual([`${held.id}.alone.1`]);
    expect(h.finished.map((f) => f.id)).toEqual(ids);
  });

  it('re-announces payloads finished already (a redelivery) without loading them again', async () => {
    const h = harness();
    const done = payloadRow(1, 'processed');
    h.state.others.push(done);
    await h.service.process([done.id], working);
    expect(h.statements).toEqual([]);
    expect(h.announced()).toEqual([`${done.id}:processed`]);
  });

  it.each([1, 3])('follows the attempt policy (MAX_ATTEMPTS %i): a payload past its attempts is failed, the others loaded', async (maxAttempts) => {
    const h = harness({ maxAttempts });
    const [last, exhausted] = h.take(payloadRow(maxAttempts), payloadRow(maxAttempts + 1));
    await h.service.process([last, exhausted], working);
    expect(h.failed).toEqual([{ id: exhausted, reason: { rule: 'attempts_exhausted', message: `processing stopped without an outcome ${maxAttempts} times; giving up` } }]);
    expect(h.finished.map((f) => f.id)).toEqual([last]);
  });

  it('quarantines a payload whose body is missing, and the ones the loader refuses, in the same transaction', async () => {
    const refusal = refusedOutcome('measurement', { rule: 'invalid_json', message: 'not JSON' });
    const [ok, refused] = [payloadRow(1), payloadRow(1)];
    const h = harness({ load: async (ids) => new Map(ids.map((id) => [id, id === refused.id ? refusal : PROCESSED])) });
    h.take(ok, refused);
    const missing = payloadRow(1);
    h.state.taken.push(missing);
    await h.service.process([ok.id, refused.id, missing.id], working);
    expect(h.statements).toEqual(['BEGIN', 'COMMIT']);
    expect(h.finished.map((f) => [f.id, f.outcome.status, f.outcome.error?.rule ?? null])).toEqual([
      [ok.id, 'processed', null],
      [refused.id, 'quarantined', 'invalid_json'],
      [missing.id, 'quarantined', 'file_missing'],
    ]);
    expect(h.announced()).toEqual([`${ok.id}:processed`, `${refused.id}:quarantined`, `${missing.id}:quarantined`]);
  });

  it('queues each payload alone when the batch fails as a whole, so one bad payload holds back no other', async () => {
    const h = harness({ load: () => Promise.reject(new Error('deadlock detected')) });
    const ids = h.take(payloadRow(1), payloadRow(2));
    await h.service.process(ids, working);
    expect(h.statements).toEqual(['BEGIN', 'ROLLBACK']);
    expect(h.finished).toEqual([]);
    expect(h.queuedAlone()).toEqual([`${ids[0]}.alone.1`, `${ids[1]}.alone.2`]);
    expect(h.announced()).toEqual([]);
  });

  it('on a first delivery, loads payloads never attempted with their attempt counted in the same commit; the others count it first', async () => {
    const h = harness();
    const [fresh, died] = h.take(payloadRow(0, 'queued'), payloadRow(1));
    await h.service.process([fresh, died], working, true);
    expect(h.statements).toEqual(['BEGIN', 'COMMIT', 'BEGIN', 'COMMIT']);
    expect(h.counted).toEqual([died]);
    expect(h.finished.map((f) => [f.id, f.firstAttempt])).toEqual([
      [fresh, true],
      [died, false],
    ]);
    expect(h.announced()).toEqual([`${fresh}:processed`, `${died}:processed`]);
  });

  it('a first delivery that fails as a whole queues each payload alone, with no attempt counted', async () => {
    const h = harness({ load: () => Promise.reject(new Error('deadlock detected')) });
    const ids = h.take(payloadRow(0, 'queued'), payloadRow(0, 'queued'));
    await h.service.process(ids, working, true);
    expect(h.statements).toEqual(['BEGIN', 'ROLLBACK']);
    expect(h.counted).toEqual([]);
    expect(h.queuedAlone()).toEqual([`${ids[0]}.alone.0`, `${ids[1]}.alone.0`]);
    expect(h.announced()).toEqual([]);
  });
});
