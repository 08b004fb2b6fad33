import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import { FileSubjects, type RejectReason } from '@sluice/contracts';
import { SqlState, type IngestFile } from '@sluice/db';
import type { FileOutcome, KindLoader, LedgerRepository, LoaderRegistry, LoadResult, StoredPayloads } from '@sluice/loading';
import type { AttemptPolicy, JetStreamService } from '@sluice/messaging';
import type { DropAreas, ObjectStores, StoredFileReaders } from '@sluice/storage';
import { createHash, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { ArchiveExpander } from './archive-expander.service';
import { FileProcessorService } from './file-processor.service';
import { ledgerRow } from '../../test/ledger-row';
import { processorAttempts } from './processor-attempts';

const CONTENT = Buffer.from('ts,sensor,value\n2026-01-01T00:00:00Z,a,1\n');

/** A ledger row of CONTENT as startAttempt returns it: `processing`, its attempt counted. */
function fileRow(attempts: number, over: Partial<IngestFile> = {}): IngestFile {
  return ledgerRow(attempts, { sha256: createHash('sha256').update(CONTENT).digest('hex'), sizeBytes: String(CONTENT.length), ...over });
}

const LOADED: LoadResult = { rowsTotal: 1, rowsLoaded: 1, rowsRejected: 0, rowsWritten: { raw_sensor_data: 1 }, rejection: null };

/** A PostgreSQL error as pg reports it. */
const pgError = (code: string, message = 'refused') => Object.assign(new Error(message), { code, severity: 'ERROR' });

/**
 * FileProcessorService over typed fakes: a ledger that keeps one row, a loader, a transaction that records its
 * statements, a drop folder whose stat the test sets, and the publishes made.
 */
function harness({ maxAttempts = 2, load }: { maxAttempts?: number; load?: (open: () => NodeJS.ReadableStream) => Promise<LoadResult> } = {}) {
  const config = loadConfig(ProcessorConfig, { MAX_ATTEMPTS: String(maxAttempts) });
  const attempts: AttemptPolicy = processorAttempts(config);
  const statements: string[] = [];
  const finished: FileOutcome[] = [];
  const failed: RejectReason[] = [];
  const published: Array<{ subject: string; payload: object }> = [];
  const state: { row: IngestFile | null; startAttempt?: () => Promise<IngestFile | null>; stats: Array<{ size: number; mtimeMs: number }> } = {
    row: null,
    stats: [],
  };
  const terminal = (status: IngestFile['status'], error: RejectReason | null) => {
    if (state.row) state.row = { ...state.row, status, error } as IngestFile;
    return state.row;
  };

  const ledger: Pick<LedgerRepository, 'startAttempt' | 'get' | 'markFailed' | 'lockForLoad' | 'recordOutcome'> = {
    startAttempt: async () => (state.startAttempt ? state.startAttempt() : state.row),
    get: async () => state.row,
    markFailed: async (_id, reason) => {
      failed.push(reason);
      return terminal('failed', reason);
    },
    lockForLoad: async () => true,
    recordOutcome: async (_sql, _id, outcome) => {
      finished.push(outcome);
      terminal(outcome.status, outcome.error);
    },
  };
  const client = { query: async (sql: string) => void statements.push(sql) };
  const ds: Pick<DataSource, 'createQueryRunner'> = {
    createQueryRunner: () => ({ connect: async () => client, release: async () => undefined }) as unknown as ReturnType<DataSource['createQueryRunner']>,
  };
  const loader: KindLoader = {
    kinds: ['sensor_wide_csv'],
    load: async (_client, _id, _kind, open) => (load ? load(open) : LOADED),
  };
  const loaders: Pick<LoaderRegistry, 'routeStream'> = {
    routeStream: async (stream) => {
      if (stream instanceof Readable) stream.destroy();
      return { kind: 'sensor_wide_csv', loader };
    },
  };
  const readers: Pick<StoredFileReaders, 'open'> = { open: () => Readable.from([CONTENT]) };
  const storage: Pick<DropAreas, 'stat'> = {
    // What the processor reads of a stat: the size and mtime.
    stat: async () => (state.stats.shift() ?? { size: CONTENT.length, mtimeMs: 1000 }) as Stats,
  };
  const jetstream: Pick<JetStreamService, 'publish' | 'publishLater'> = {
    publish: async (subject, payload) => void published.push({ subject, payload }),
    publishLater: (subject, payload) => void published.push({ subject, payload }),
  };
  const service = new FileProcessorService(
    config,
    ds as DataSource,
    ledger as LedgerRepository,
    readers as StoredFileReaders,
    storage as DropAreas,
    jetstream as JetStreamService,
    loaders as LoaderRegistry,
    {} as StoredPayloads,
    {} as ArchiveExpander,
    {} as ObjectStores,
    attempts,
  );
  const outcomes = () => published.filter((p) => p.subject !== FileSubjects.processing).map((p) => p.subject);
  return { service, state, statements, finished, failed, published, outcomes, attempts };
}

const working = () => undefined;

describe(FileProcessorService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('answers busy while another replica holds the file in its load transaction', async () => {
    const h = harness();
    h.state.startAttempt = () => Promise.reject(pgError(SqlState.lockNotAvailable, 'canceling statement due to lock timeout'));
    await expect(h.service.process(randomUUID(), working)).resolves.toBe('busy');
    expect(h.finished).toEqual([]);
    expect(h.failed).toEqual([]);
  });

  it('loads a file in one transaction and announces its outcome', async () => {
    const h = harness();
    h.state.row = fileRow(1);
    await expect(h.service.process(h.state.row.id, working)).resolves.toBe('done');
    expect(h.finished.map((o) => o.status)).toEqual(['processed']);
    expect(h.statements).toEqual(['BEGIN', 'SAVEPOINT claimed_content', 'COMMIT']);
    expect(h.outcomes()).toEqual([FileSubjects.processed]);
  });

  it.each([1, 3])('follows the attempt policy (MAX_ATTEMPTS %i): a failed attempt is retried until the last, which records `failed`', async (maxAttempts) => {
    const h = harness({ maxAttempts, load: () => Promise.reject(new Error('parser crashed')) });
    expect(h.attempts.maxDeliveries).toBe(maxAttempts + 1);
    for (let attempt = 1; attempt < maxAttempts; attempt++) {
      h.state.row = fileRow(attempt);
      await expect(h.service.process(h.state.row.id, working)).rejects.toThrow('parser crashed');
    }
    expect(h.failed).toEqual([]);
    h.state.row = fileRow(maxAttempts);
    await expect(h.service.process(h.state.row.id, working)).resolves.toBe('done');
    expect(h.failed).toEqual([{ rule: 'processing_failed', message: `parser crashed (attempt ${maxAttempts} of ${maxAttempts})` }]);
    expect(h.outcomes()).toEqual([FileSubjects.failed]);
  });

  it.each([1, 3])('gives a file up once its attempts are exhausted (MAX_ATTEMPTS %i): every earlier one died with its process', async (maxAttempts) => {
    let loads = 0;
    const h = harness({
      maxAttempts,
      load: async () => {
        loads++;
        return LOADED;
      },
    });
    h.state.row = fileRow(maxAttempts + 1);
    await expect(h.service.process(h.state.row.id, working)).resolves.toBe('done');
    expect(loads).toBe(0);
    expect(h.failed).toEqual([{ rule: 'attempts_exhausted', message: `processing stopped without an outcome ${maxAttempts} times (the processor died during each attempt); giving up` }]);
    expect(h.outcomes()).toEqual([FileSubjects.failed]);
  });

  it('quarantines a file the database refuses at once, in a transaction of its own, without spending attempts', async () => {
    const h = harness({ load: () => Promise.reject(pgError('23502', 'null value in column "ts"')) });
    h.state.row = fileRow(1);
    await expect(h.service.process(h.state.row.id, working)).resolves.toBe('done');
    expect(h.failed).toEqual([]);
    expect(h.finished).toEqual([expect.objectContaining({ status: 'quarantined', kind: 'sensor_wide_csv', error: expect.objectContaining({ rule: 'rejected_by_database' }) })]);
    expect(h.statements).toEqual(['BEGIN', 'SAVEPOINT claimed_content', 'ROLLBACK', 'BEGIN', 'COMMIT']);
    expect(h.outcomes()).toEqual([FileSubjects.quarantined]);
  });

  it('rolls a load back and quarantines the file when it changed after the claim', async () => {
    const h = harness({
      load: async (open) => {
        // The load reads the whole file, as a loader does.
        for await (const chunk of open()) void chunk;
        return LOADED;
      },
    });
    h.state.row = fileRow(1);
    // Its size and mtime at the start of the load, then another mtime at its end: a writer still had it open.
    h.state.stats.push({ size: CONTENT.length, mtimeMs: 1000 }, { size: CONTENT.length, mtimeMs: 2000 });
    await expect(h.service.process(h.state.row.id, working)).resolves.toBe('done');
    expect(h.finished).toEqual([expect.objectContaining({ status: 'quarantined', rowsLoaded: 0, error: expect.objectContaining({ rule: 'changed_after_claim' }) })]);
    expect(h.statements).toEqual(['BEGIN', 'SAVEPOINT claimed_content', 'ROLLBACK TO SAVEPOINT claimed_content', 'COMMIT']);
    expect(h.outcomes()).toEqual([FileSubjects.quarantined]);
  });

  it('re-announces a file already finished and drops a message for an unknown one', async () => {
    const h = harness();
    const done = fileRow(1, { status: 'processed' });
    h.state.startAttempt = async () => null;
    h.state.row = done;
    await expect(h.service.process(done.id, working)).resolves.toBe('done');
    h.state.row = null;
    await expect(h.service.process(randomUUID(), working)).resolves.toBe('done');
    expect(h.outcomes()).toEqual([FileSubjects.processed]);
    expect(h.finished).toEqual([]);
  });
});
