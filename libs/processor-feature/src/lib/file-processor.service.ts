import { Injectable, Logger, Optional } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { FileSubjects, isTerminal, messageIds, messages, subjectOfStatus, type RejectReason, type Subjects } from '@sluice/contracts';
import { hasSqlState, SqlState, withTransaction, type IngestFile } from '@sluice/db';
import type { ContractInput } from '@sluice/datasets';
import {
  isContractRoute,
  isStoredInDatabase,
  LedgerRepository,
  loadOutcome,
  LoaderRegistry,
  loadPolicyOptions,
  PartitionCoverage,
  refusedOutcome,
  StoredPayloads,
  type FileOutcome,
  type LoadOptions,
  type Route,
} from '@sluice/loading';
import { AttemptPolicy, JetStreamService } from '@sluice/messaging';
import { decompressed, isCompressedContentError } from '@sluice/formats';
import { DropAreas, isArchiveMember, isNoSuchKey, isObjectChanged, isStoredInObjectStore, ObjectStores, parseObjectStoredPath, StoredFileReaders } from '@sluice/storage';
import type { PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { ArchiveExpander } from './archive-expander.service';
import { ClaimedContent } from './claimed-content.util';
import { classifyFailure, objectChangedReason } from './failure.util';
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
    private readonly storage: DropAreas,
    private readonly jetstream: JetStreamService,
    private readonly loaders: LoaderRegistry,
    private readonly payloads: StoredPayloads,
    private readonly archives: ArchiveExpander,
    private readonly objects: ObjectStores,
    private readonly attempts: AttemptPolicy,
    @Optional() private readonly coverage?: PartitionCoverage,
  ) {}

  /** Policies and limits every load runs with. */
  loadOptions(onProgress?: () => void, onStage?: LoadOptions['onStage']): LoadOptions {
    const coverage = this.coverage;
    return {
      ...loadPolicyOptions(this.config),
      beforeCopy: coverage ? (table, from, to) => coverage.beforeCopy(table, from, to) : undefined,
      onProgress,
      onStage,
    };
  }

  async process(fileId: string, working: () => void): Promise<ProcessResult> {
    const started = Date.now();
    const starting = performance.now();
    let file: IngestFile | null;
    try {
      file = await this.ledger.startAttempt(fileId);
    } catch (e) {
      // lock_timeout: another replica holds this file in its load transaction.
      if (hasSqlState(e, SqlState.lockNotAvailable)) return 'busy';
      throw e;
    }
    metrics.timeSince('start', starting);
    if (!file) {
      const row = await this.ledger.get(fileId);
      if (row && isTerminal(row.status)) await this.announce(row);
      else this.logger.warn(`message for unknown file ${fileId} dropped`);
      return 'done';
    }
    return this.attempt(file, working, { started });
  }

  /**
   * One attempt at a file whose attempt is started in the ledger (its row `processing`, attempts counted).
   * `fromLedger`: taken from the ledger while JetStream delivers nothing, so its news is queued to be sent
   * when JetStream takes publishes again rather than waited for.
   */
  async attempt(file: IngestFile, working: () => void, { started = Date.now(), fromLedger = false }: { started?: number; fromLedger?: boolean } = {}): Promise<ProcessResult> {
    const fileId = file.id;
    if (this.attempts.isExhausted(file.attempts)) {
      // Every earlier attempt died with its process (a poison file that crashes the processor).
      await this.fail(fileId, { rule: 'attempts_exhausted', message: `processing stopped without an outcome ${file.attempts - 1} times (the processor died during each attempt); giving up` });
      return 'done';
    }
    // News only: published while the load runs, and waited for before the outcome's, which must follow it.
    const processingNews = this.publishQuietly(FileSubjects.processing, messages.lifecycle(file), messageIds.processing(file), fromLedger);

    let outcome: FileOutcome | null;
    try {
      outcome = await this.load(file, working);
    } catch (e) {
      await processingNews;
      metrics.attemptsFailed.inc();
      // A transient or unknown failure (see classifyFailure); the last permitted attempt records why, so the
      // file ends `failed` with the real error.
      if (!this.attempts.isLastAttempt(file.attempts)) throw e;
      const { reason } = classifyFailure(e);
      await this.fail(fileId, { ...reason, message: `${reason.message} (attempt ${file.attempts} of ${this.attempts.maxAttempts})` });
      return 'done';
    }
    await processingNews;
    if (!outcome) return 'done';
    // Committed: rows that went to a default partition get the partitions of their time. Not awaited: it may
    // wait for locks a load in flight holds, and never throws (it tries again by itself).
    void this.coverage?.afterLoad(outcome.rowsWritten);
    const durationMs = Date.now() - started;
    metrics.fileDuration.observe(durationMs / 1000);
    metrics.filesFinished.inc({ status: outcome.status, kind: outcome.kind ?? 'unknown' });
    metrics.rowsLoaded.inc(outcome.rowsLoaded);
    metrics.rowsRejected.inc(outcome.rowsRejected);
    metrics.countRowsWritten(outcome.rowsWritten);
    const announced = performance.now();
    const row = await this.ledger.get(fileId);
    if (row) await this.announce(row, durationMs, fromLedger);
    metrics.timeSince('announce', announced);
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
    if (file.compression === 'zip' && !file.archiveId) return this.archives.expand(file, working, (f, o) => this.commitOutcome(f, o));
    const routing = performance.now();
    const { source, claimed } = await this.source(file);
    const route = await this.refuseBeforeLoad(file, source);
    metrics.timeSince('route', routing);
    try {
      return await this.commitOutcome(file.id, (client) => this.outcomeOf(client, file, route, source, claimed, working));
    } catch (e) {
      // A GET during the load (the load's own, or a ranged re-GET after a dropped connection) found a new version under the key, or none.
      if (isObjectChanged(e)) return this.commitOutcome(file.id, refusedOutcome(route.kind, objectChangedReason(file.originalName)));
      if (isNoSuchKey(e)) return this.commitOutcome(file.id, refusedOutcome(route.kind, objectChangedReason(file.originalName, 'deleted')));
      const failure = classifyFailure(e);
      if (failure.kind !== 'permanent') throw e;
      const replaced = await this.objectReplaced(file);
      if (replaced) return this.commitOutcome(file.id, refusedOutcome(route.kind, objectChangedReason(file.originalName, replaced)));
      // The database (or the decompression) refuses the data and would again: quarantined now, never retried into `failed`.
      this.logger.warn({ fileId: file.id, reason: failure.reason }, 'file refused');
      return this.commitOutcome(file.id, refusedOutcome(route.kind, failure.reason));
    }
  }

  /**
   * The load (or refusal) of a file inside its transaction. When what was read is not what was claimed (a
   * writer still had the file open, an object overwritten during the GET), none of it counts: rolled back to
   * before the load and quarantined `changed_after_claim` (a file) or `object_changed` (an object).
   */
  private async outcomeOf(client: PoolClient, file: IngestFile, route: Route, source: () => Readable, claimed: ClaimedContent | undefined, working: () => void): Promise<FileOutcome> {
    if (claimed) await client.query('SAVEPOINT claimed_content');
    // What the loader does not time apart (LoadStage) is reading, parsing and validating.
    let apart = 0;
    const opts = this.loadOptions(working, (stage, ms) => {
      apart += ms;
      metrics.stageSeconds.inc({ stage }, ms / 1000);
    });
    const loading = performance.now();
    const outcome =
      'reason' in route
        ? refusedOutcome(route.kind, route.reason)
        : isContractRoute(route)
          ? await route.loader.load(client, file.id, route.contract, source, opts)
          : loadOutcome(route.kind, await route.loader.load(client, file.id, route.kind, source, opts));
    metrics.timeSince('parse', loading + apart);
    const hasFile = !file.archiveId && !isStoredInObjectStore(file.storedPath);
    let changed = claimed?.verify(hasFile ? await this.storage.stat(file.storedPath) : null);
    // A refusal may come before the end of the object (the route, too many invalid rows): its bytes are proven
    // by no hash, so the key must still hold the claimed version for the refusal to be the true reason.
    if (!changed && outcome.status !== 'processed' && !claimed?.readWhole) {
      const replaced = await this.objectReplaced(file);
      if (replaced) changed = objectChangedReason(file.originalName, replaced);
    }
    if (!changed) return outcome;
    await client.query('ROLLBACK TO SAVEPOINT claimed_content');
    this.logger.warn({ fileId: file.id, storedPath: file.storedPath }, changed.message);
    return refusedOutcome(route.kind, changed);
  }

  /**
   * In one transaction holding the ledger row: the outcome (or the load that yields it) and the ledger
   * update. Null when the row is no longer `processing` (another replica finished it).
   */
  private async commitOutcome(fileId: string, outcomeOf: FileOutcome | ((client: PoolClient) => Promise<FileOutcome>)): Promise<FileOutcome | null> {
    let recorded = 0;
    const outcome = await withTransaction(this.ds, async (client) => {
      // Finished elsewhere: only a row lock was taken, which the commit releases as a rollback would.
      if (!(await this.ledger.lockForLoad(client, fileId))) return null;
      const outcome = typeof outcomeOf === 'function' ? await outcomeOf(client) : outcomeOf;
      const recording = performance.now();
      await this.ledger.recordOutcome(client, fileId, outcome);
      metrics.timeSince('outcome', recording);
      recorded = performance.now();
      return outcome;
    });
    if (recorded) metrics.timeSince('commit', recorded);
    return outcome;
  }

  /**
   * Decides what to do with a file from its size and first bytes: the loader of its kind, the data contract in
   * force now that takes it (a replay too goes through the version in force when it runs), or a quarantine reason.
   * A contract's table is made here, committed before the load's transaction (see ContractKindLoader).
   */
  private async refuseBeforeLoad(file: IngestFile, open: () => Readable): Promise<Route> {
    const size = Number(file.sizeBytes);
    if (size > this.config.MAX_FILE_BYTES) {
      return { kind: null, reason: { rule: 'file_too_large', message: `the file has ${size} bytes; the limit is ${this.config.MAX_FILE_BYTES} (MAX_FILE_BYTES)` } };
    }
    try {
      const route = await this.loaders.routeStream(open(), file.originalName, this.config.MAX_LINE_BYTES, await this.contractInput(file));
      if (isContractRoute(route)) await route.loader.prepare(route.contract);
      return route;
    } catch (e) {
      if (isCompressedContentError(e)) return { kind: null, reason: e.reason };
      // The object's key holds other bytes than the version claimed: that version is gone (the new one is claimed on its own).
      if (isObjectChanged(e)) return { kind: null, reason: objectChangedReason(file.originalName) };
      if (isNoSuchKey(e) && isStoredInObjectStore(file.storedPath)) return { kind: null, reason: objectChangedReason(file.originalName, 'deleted') };
      throw e;
    }
  }

  /**
   * Where a file came from, as a contract's `inputs` match it: its path under incoming/, its source and key, the
   * name it was uploaded under; a zip member by its name inside the archive, as a file of the drop folder.
   */
  private async contractInput(file: IngestFile): Promise<ContractInput> {
    if (file.archiveId) {
      const archive = await this.ledger.get(file.archiveId);
      const prefix = archive ? `${archive.originalName}/` : '';
      return { source: 'dropzone', path: prefix && file.originalName.startsWith(prefix) ? file.originalName.slice(prefix.length) : file.originalName };
    }
    const object = parseObjectStoredPath(file.storedPath);
    if (object) return { source: 's3', s3Source: object.source, key: object.key };
    if (file.source === 'api') return { source: 'api', path: file.originalName };
    return { source: 'dropzone', path: file.originalName };
  }

  /** For an object (not a zip member): whether its key now holds another version or none; null when it still holds the claimed one. */
  private async objectReplaced(file: IngestFile): Promise<'overwritten' | 'deleted' | null> {
    const loc = file.archiveId ? null : parseObjectStoredPath(file.storedPath);
    const store = loc && this.objects.get(loc.source);
    if (!loc || !store) return null;
    const now = await store.etagOf(loc.key);
    return now === loc.etag ? null : now === null ? 'deleted' : 'overwritten';
  }

  /**
   * Opens the file's content: a file of the drop folder (every read checked against the claim, see
   * ClaimedContent), an object of an object store (its claimed version pinned by ETag, and every read
   * checked against the claim's hash too: a server may serve a newer version's bytes within one GET), a
   * small API payload kept in the database (written once, in its ledger transaction), or a member of a zip archive
   * (checked against the hash taken when the archive was unpacked). A gzip file is decompressed as it is
   * read (its claim is of its content); a compressed member, or gzip inside gzip, is refused as nested.
   */
  private async source(file: IngestFile): Promise<{ source: () => Readable; claimed?: ClaimedContent }> {
    const unpack = (raw: Readable, nested = false) => this.track(decompressed(raw, this.config.decompressionLimits, { name: file.originalName, nested }));
    const claim = { sha256: file.sha256.trim(), size: Number(file.sizeBytes) };
    if (isArchiveMember(file.storedPath)) {
      const claimed = new ClaimedContent(claim, null);
      return { source: () => claimed.tap(unpack(Readable.from(this.memberBytes(file)), true)), claimed };
    }
    if (isStoredInDatabase(file.storedPath)) {
      const body = await this.payloads.read(file.id);
      if (!body) throw new Error(`the stored body of ${file.id} is missing from ingest_payloads`);
      return { source: () => unpack(Readable.from([body])) };
    }
    if (isStoredInObjectStore(file.storedPath)) {
      const claimed = new ClaimedContent(claim, null, true, 'object');
      return { source: () => claimed.tap(unpack(this.open(file.storedPath))), claimed };
    }
    const claimed = new ClaimedContent(claim, await this.storage.stat(file.storedPath), file.compression === null);
    return { source: () => claimed.tap(unpack(this.open(file.storedPath))), claimed };
  }

  /** The bytes of a zip member, read from its archive wherever the archive's row says it is now. */
  private async *memberBytes(file: IngestFile): AsyncGenerator<Buffer> {
    const archive = file.archiveId ? await this.ledger.get(file.archiveId) : null;
    if (!archive || file.memberIndex === null) throw new Error(`the archive ${file.archiveId ?? '(none)'} of member ${file.id} is not in the ledger`);
    const zip = await this.archives.open(archive);
    try {
      const opened = await zip.openMember(file.memberIndex);
      if (!opened) throw new Error(`${archive.originalName} has no member #${file.memberIndex} (${file.originalName})`);
      yield* opened.stream as AsyncIterable<Buffer>;
    } finally {
      zip.close();
    }
  }

  private open(storedPath: string): Readable {
    return this.track(this.readers.open(storedPath));
  }

  /** Kept until closed, so that a shutdown can interrupt it. */
  private track(stream: Readable): Readable {
    this.openStreams.add(stream);
    stream.once('close', () => this.openStreams.delete(stream));
    return stream;
  }

  /**
   * Publishes the terminal state of a row; the msgId makes a repeat after a crash harmless. It names the
   * replay too: a replay's outcome is news (the watcher moves the file on it), not a repeat to drop.
   * `later`: queued to go out when JetStream takes publishes (see attempt), rather than waited for.
   */
  private async announce(row: IngestFile, durationMs?: number, later = false): Promise<void> {
    if (!isTerminal(row.status)) return;
    const [subject, event, msgId] = [subjectOfStatus(row.status), messages.lifecycle(row, { durationMs }), messageIds.outcome(row)];
    if (later) this.jetstream.publishLater(subject, event, msgId);
    else await this.jetstream.publish(subject, event, msgId);
  }

  private async publishQuietly<S extends keyof Subjects>(subject: S, payload: Subjects[S], msgId: string, later = false): Promise<void> {
    if (later) return this.jetstream.publishLater(subject, payload, msgId);
    try {
      await this.jetstream.publish(subject, payload, msgId);
    } catch (e) {
      this.logger.warn(`could not publish ${subject}: ${(e as Error).message}`);
    }
  }
}
