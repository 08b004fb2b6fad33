import { Injectable, Logger } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { FileSubjects, isTerminal, subjectOfStatus, type RejectReason } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import {
  HEAD_BYTES,
  isStoredInDatabase,
  LedgerRepository,
  lifecycleEventOf,
  loadOutcome,
  LoaderRegistry,
  refusedOutcome,
  StoredPayloads,
  type FileOutcome,
  type LoadOptions,
  type Route,
} from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';
import { isObjectChanged, StoredFileReaders } from '@sluice/storage';
import type { PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import * as metrics from './processor.metrics';

export type ProcessResult = 'done' | 'busy';

/**
 * Loads one file exactly once: start an attempt in the ledger, then in ONE transaction lock the ledger row,
 * load rows + aggregates + row errors and write the outcome; commit; announce the outcome. The caller acks
 * the message only after this resolves, so a crash anywhere before means a redelivery that either redoes
 * the work (nothing was committed) or finds the row terminal and only re-announces it.
 */
@Injectable()
export class FileProcessorService {
  private readonly logger = new Logger(FileProcessorService.name);
  private readonly openStreams = new Set<Readable>();

  constructor(
    private readonly config: ProcessorConfig,
    private readonly ds: DataSource,
    private readonly ledger: LedgerRepository,
    private readonly readers: StoredFileReaders,
    private readonly jetstream: JetStreamService,
    private readonly loaders: LoaderRegistry,
    private readonly payloads: StoredPayloads,
  ) {}

  /** Policies and limits every load runs with. */
  loadOptions(onProgress?: () => void): LoadOptions {
    return {
      invalidRows: this.config.INVALID_ROWS,
      maxInvalidRatio: this.config.MAX_INVALID_RATIO,
      ranges: this.config.metricRanges,
      naiveTimeZone: this.config.NAIVE_TIMEZONE,
      maxJsonDocumentBytes: this.config.MAX_JSON_DOCUMENT_BYTES,
      maxLineBytes: this.config.MAX_LINE_BYTES,
      maxJsonDepth: this.config.MAX_JSON_DEPTH,
      onProgress,
    };
  }

  async process(fileId: string, working: () => void): Promise<ProcessResult> {
    const started = Date.now();
    let file: IngestFile | null;
    try {
      file = await this.ledger.startAttempt(fileId);
    } catch (e) {
      // lock_timeout: another replica holds this file in its load transaction.
      if ((e as { code?: string }).code === '55P03') return 'busy';
      throw e;
    }
    if (!file) {
      const row = await this.ledger.get(fileId);
      if (row && isTerminal(row.status)) await this.announce(row);
      else this.logger.warn(`message for unknown file ${fileId} dropped`);
      return 'done';
    }
    if (file.attempts > this.config.MAX_ATTEMPTS) {
      // Every earlier attempt died with its process (a poison file that crashes the processor).
      await this.fail(fileId, { rule: 'attempts_exhausted', message: `processing stopped without an outcome ${file.attempts - 1} times (the processor died during each attempt); giving up` });
      return 'done';
    }
    await this.publishQuietly(FileSubjects.processing, lifecycleEventOf(file), `${fileId}.processing.${file.attempts}`);

    let outcome: FileOutcome | null;
    try {
      outcome = await this.load(file, working);
    } catch (e) {
      metrics.attemptsFailed.inc();
      // The last permitted attempt: record why, so the file ends `failed` with the real error.
      if (file.attempts >= this.config.MAX_ATTEMPTS) {
        await this.fail(fileId, { rule: 'processing_failed', message: (e as Error).message });
        return 'done';
      }
      throw e;
    }
    if (!outcome) return 'done';
    const durationMs = Date.now() - started;
    metrics.fileDuration.observe(durationMs / 1000);
    metrics.filesFinished.inc({ status: outcome.status, kind: outcome.kind ?? 'unknown' });
    metrics.rowsLoaded.inc(outcome.rowsLoaded);
    metrics.rowsRejected.inc(outcome.rowsRejected);
    metrics.readingsLoaded.inc(outcome.readingsLoaded);
    const row = await this.ledger.get(fileId);
    if (row) await this.announce(row, durationMs);
    this.logger.log({ fileId, status: outcome.status, kind: outcome.kind, rows: outcome.rowsLoaded, rejected: outcome.rowsRejected, durationMs }, 'file finished');
    return 'done';
  }

  /** Marks a file failed once its attempts are used up, and announces it. */
  async fail(fileId: string, reason: RejectReason): Promise<void> {
    const row = await this.ledger.markFailed(fileId, reason);
    metrics.filesFinished.inc({ status: 'failed', kind: row?.kind ?? 'unknown' });
    const current = row ?? (await this.ledger.get(fileId));
    if (current && isTerminal(current.status)) await this.announce(current);
  }

  /** Interrupts in-flight loads (their transactions roll back and the messages are redelivered). */
  abortInFlight(): void {
    for (const s of this.openStreams) s.destroy(new Error('processor is shutting down'));
  }

  private async load(file: IngestFile, working: () => void): Promise<FileOutcome | null> {
    const source = await this.source(file);
    const refused = await this.refuseBeforeLoad(file, source);
    const runner = this.ds.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await client.query('BEGIN');
      if (!(await this.ledger.lockForLoad(client, file.id))) {
        await client.query('ROLLBACK');
        return null;
      }
      let outcome: FileOutcome;
      if ('reason' in refused) {
        outcome = refusedOutcome(refused.kind, refused.reason);
      } else {
        const result = await refused.loader.load(client, file.id, refused.kind, source, this.loadOptions(working));
        outcome = loadOutcome(refused.kind, result);
      }
      await this.ledger.finish(client, file.id, outcome);
      await client.query('COMMIT');
      return outcome;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await runner.release();
    }
  }

  /** Decides what to do with a file from its size and first bytes: the loader of its kind, or a quarantine reason. */
  private async refuseBeforeLoad(file: IngestFile, open: () => Readable): Promise<Route> {
    const size = Number(file.sizeBytes);
    if (size > this.config.MAX_FILE_BYTES) {
      return { kind: null, reason: { rule: 'file_too_large', message: `the file has ${size} bytes; the limit is ${this.config.MAX_FILE_BYTES} (MAX_FILE_BYTES)` } };
    }
    let head: Buffer;
    try {
      head = await readHead(open(), HEAD_BYTES);
    } catch (e) {
      // The object's key holds other bytes than the version claimed: that version is gone (the new one is claimed on its own).
      if (isObjectChanged(e)) return { kind: null, reason: { rule: 'object_changed', message: `${file.originalName} was overwritten after it was claimed; the new version is loaded as a file of its own` } };
      throw e;
    }
    return this.loaders.route(head, file.originalName);
  }

  /** Opens the file's bytes: a file of the drop folder or an object store, or a small API payload kept in the database. */
  private async source(file: IngestFile): Promise<() => Readable> {
    if (isStoredInDatabase(file.storedPath)) {
      const body = await this.payloads.read(file.id);
      if (!body) throw new Error(`the stored body of ${file.id} is missing from ingest_payloads`);
      return () => Readable.from([body]);
    }
    return () => this.open(file.storedPath);
  }

  private open(storedPath: string): Readable {
    const stream = this.readers.open(storedPath);
    this.openStreams.add(stream);
    stream.once('close', () => this.openStreams.delete(stream));
    return stream;
  }

  /** Publishes the terminal state of a row; the msgId makes a repeat after a crash harmless. */
  private async announce(row: IngestFile, durationMs?: number): Promise<void> {
    if (!isTerminal(row.status)) return;
    await this.jetstream.publish(subjectOfStatus(row.status), lifecycleEventOf(row, { durationMs }), `${row.id}.${row.status}`);
  }

  private async publishQuietly(subject: (typeof FileSubjects)[keyof typeof FileSubjects], payload: object, msgId: string): Promise<void> {
    try {
      await this.jetstream.publish(subject, payload, msgId);
    } catch (e) {
      this.logger.warn(`could not publish ${subject}: ${(e as Error).message}`);
    }
  }
}

/** The first `bytes` bytes of a stream (fewer if it is shorter); the stream is closed afterwards. */
async function readHead(stream: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      length += buf.length;
      if (length >= bytes) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, bytes);
}
