import { HttpStatus, Injectable, Logger, Optional } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { readingsOf } from '@sluice/contracts';
import { IngestError, type IngestFile } from '@sluice/db';
import { ApiException } from '@sluice/http';
import type { Compression } from '@sluice/formats';
import { Contracts, databaseStoredPath, LedgerRepository } from '@sluice/loading';
import { DiskSpace, UploadWriter, isStorageException, sanitizeSegments, type DiskState } from '@sluice/storage';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IngestCommitter } from './ingest-committer.service';
import type { IngestStatusDto } from './ingest.dto';
import { IngestMetrics } from './ingest.metrics';
import { IdempotencyRepository, idempotencyScope, isKeyReused, requestDigest, type IdempotencyClaim, type IdempotencyScope } from './idempotency.repository';
import { checkJsonDocument, checkNdjson, NO_CONTRACT_KINDS, type ContractKinds, type PayloadKind } from './payload-check.util';
import { tooLarge } from './request-body.util';

export const ROW_ERRORS_SHOWN = 20;
/** Processor's default nesting limit (MAX_JSON_DEPTH): the API refuses what the processor would. */
const MAX_JSON_DEPTH = 64;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Seconds a client refused for a low disk is told to wait (`Retry-After`): space comes back by retention or by hand, not in a moment. */
export const DISK_LOW_RETRY_AFTER_S = 30;
/** Write errors that mean the drop folder's file system (or the user's quota on it) is full. */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export interface Accepted {
  rawId: string;
  /** The Idempotency-Key named an earlier payload: nothing new was stored. */
  replayed: boolean;
}

/**
 * Stores payloads and uploads durably and reads their state. A POST /ingest body of at most
 * INGEST_INLINE_MAX_BYTES goes to the group commit as it is (kept in ingest_payloads with its ledger row);
 * larger bodies and uploads are written to processing/ first (write + fsync + rename), then committed.
 */
@Injectable()
export class IngestService {
  constructor(
    private readonly config: IngestApiConfig,
    private readonly ds: DataSource,
    private readonly drop: UploadWriter,
    private readonly ledger: LedgerRepository,
    private readonly committer: IngestCommitter,
    private readonly idempotency: IdempotencyRepository,
    private readonly metrics: IngestMetrics,
    private readonly disk: DiskSpace,
    @Optional() private readonly contracts?: Contracts,
  ) {}

  /**
   * 503 `disk_low` (Retry-After) while the drop folder has less than MIN_FREE_DISK free: for requests whose
   * body would be written there, before any of it is read. Bodies kept in PostgreSQL are not refused.
   */
  async refuseIfDiskLow(): Promise<void> {
    const state = await this.disk.current();
    if (state.low) throw this.diskLow(state);
  }

  private diskLow(state: DiskState, cause?: string): ApiException {
    this.metrics.refused.inc({ code: 'disk_low' });
    const why = cause ?? state.problem ?? 'the drop folder is low on space';
    return new ApiException(
      HttpStatus.SERVICE_UNAVAILABLE,
      'disk_low',
      `${why}: bodies over INGEST_INLINE_MAX_BYTES and uploads are not accepted until space is freed; nothing was stored — retry after ${DISK_LOW_RETRY_AFTER_S} s (with the same Idempotency-Key)`,
      { free_bytes: state.freeBytes, min_free_bytes: state.minFreeBytes, retry_after_seconds: DISK_LOW_RETRY_AFTER_S },
    ).withHeader('Retry-After', String(DISK_LOW_RETRY_AFTER_S));
  }

  /**
   * Runs a write to the drop folder; when it fails because the disk is full (ENOSPC, EDQUOT; the partial file
   * is already removed) the answer is the same 503 `disk_low`, and the free space is read again at once so
   * that the next requests are refused before they are read.
   */
  private async writing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code !== 'string' || !DISK_FULL_CODES.has(code)) throw e;
      new Logger('IngestService').warn(`a body could not be written to the drop folder: ${(e as Error).message}`);
      throw this.diskLow(await this.disk.check(), `the drop folder's file system is full (${code})`);
    }
  }

  /** The Idempotency-Key header checked and scoped to the API key; undefined without one. */
  scope(apiKey: string | undefined, header: string | undefined): IdempotencyScope | undefined {
    if (header === undefined) return undefined;
    if (!IDEMPOTENCY_KEY.test(header)) throw ApiException.invalidParameter('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
    return idempotencyScope(apiKey, header);
  }

  /**
   * A previous payload stored under this key, if any: a replay when it came with the same request, a 422
   * when it came with another (a new payload needs a new key).
   */
  async previous(claim: IdempotencyClaim | undefined): Promise<Accepted | null> {
    if (!claim) return null;
    const owner = await this.idempotency.find(claim);
    if (!owner) return null;
    if (isKeyReused(owner, claim.requestSha256)) throw keyReused(claim.key, owner.rawId);
    return { rawId: owner.rawId, replayed: true };
  }

  /** POST /ingest: checks a JSON or NDJSON body as the processor would, then stores its exact bytes. */
  async acceptPayload(body: Buffer, format: 'json' | 'ndjson', scope: IdempotencyScope | undefined): Promise<Accepted> {
    const check = format === 'json' ? checkJsonDocument(body, MAX_JSON_DEPTH) : checkNdjson(body, MAX_JSON_DEPTH, this.contractKinds());
    const inline = body.length <= this.config.INGEST_INLINE_MAX_BYTES;
    // Hashed here for an inline body (its ledger row needs it) or a keyed one (its key needs it before anything is written).
    const sha256 = inline || scope ? createHash('sha256').update(body).digest('hex') : undefined;
    const claim = scope && sha256 ? { ...scope, requestSha256: requestDigest('ingest', format, sha256) } : undefined;
    const before = await this.previous(claim);
    if (before) return before;
    const id = randomUUID();
    const name = `${id}.${format}`;
    if (inline && sha256) {
      const accepted = await this.register(id, name, { storedPath: databaseStoredPath(id), sha256, size: body.length }, claim, body);
      this.count('ingest', check.kind, body.length);
      return accepted;
    }
    await this.refuseIfDiskLow();
    const written = await unavailableOnFailure(() => this.writing(() => this.drop.writeProcessing(id, name, body)));
    const accepted = await this.register(id, name, written, claim);
    this.count('ingest', check.kind, written.size);
    return accepted;
  }

  /**
   * The kinds the data contracts in force take, as the processor will route the body's lines (by `inputs.kind`,
   * see ContractInput). The contracts folder is read at most once a body, and only for a kind no built-in takes.
   */
  private contractKinds(): ContractKinds {
    const contracts = this.contracts;
    if (!contracts) return NO_CONTRACT_KINDS;
    let byKind: Map<string, string[]> | undefined;
    const read = () => {
      if (byKind) return byKind;
      contracts.refresh();
      byKind = new Map();
      for (const v of contracts.all()) {
        const kind = v.contract.inputs.kind;
        if (kind !== undefined) byKind.set(kind, [...(byKind.get(kind) ?? []), v.contract.name]);
      }
      return byKind;
    };
    return { taking: (kind) => read().get(kind) ?? [], kinds: () => [...read().keys()].sort() };
  }

  /**
   * POST /ingest/files: streams `source` to disk (never whole in memory), then registers it. `complete`
   * (a multipart body) must resolve before anything is recorded: a request refused after its file part
   * (a second file part) leaves nothing stored or queued. With an Idempotency-Key the bytes as sent are
   * hashed on the way (the ledger's SHA-256 of a gzip file is that of its content); a key already used
   * is checked against them without storing anything.
   */
  async acceptUpload(source: AsyncIterable<Buffer>, filename: string, scope: IdempotencyScope | undefined, complete?: Promise<void>): Promise<Accepted> {
    const name = sanitizeSegments(filename).at(-1) ?? 'upload';
    const hash = scope ? createHash('sha256') : undefined;
    const claimOf = (h: Hash) => ({ ...(scope as IdempotencyScope), requestSha256: requestDigest('files', name, h.digest('hex')) });
    if (scope && hash) {
      const owner = await this.idempotency.find(scope);
      if (owner) {
        if (owner.requestSha256 === null) return { rawId: owner.rawId, replayed: true };
        await this.drain(hashing(source, hash));
        if (complete) await complete;
        return (await this.previous(claimOf(hash))) ?? { rawId: owner.rawId, replayed: true };
      }
    }
    await this.refuseIfDiskLow();
    const id = randomUUID();
    let written;
    try {
      written = await this.writing(() => this.drop.writeProcessing(id, name, hash ? hashing(source, hash) : source, this.config.MAX_UPLOAD_BYTES));
    } catch (e) {
      if (isStorageException(e, 'too_large')) throw tooLarge(this.config.MAX_UPLOAD_BYTES, 'MAX_UPLOAD_BYTES');
      if (e instanceof ApiException) throw e;
      throw unavailable(e);
    }
    if (complete) {
      try {
        await complete;
      } catch (e) {
        await this.drop.discardProcessing(written.storedPath);
        throw e;
      }
    }
    const accepted = await this.register(id, name, written, hash ? claimOf(hash) : undefined);
    this.count('files', 'file', written.size);
    return accepted;
  }

  /** Reads an upload to its end without keeping it (its hash is taken on the way), bounded by MAX_UPLOAD_BYTES. */
  private async drain(source: AsyncIterable<Buffer>): Promise<void> {
    let size = 0;
    for await (const chunk of source) {
      size += chunk.length;
      if (size > this.config.MAX_UPLOAD_BYTES) throw tooLarge(this.config.MAX_UPLOAD_BYTES, 'MAX_UPLOAD_BYTES');
    }
  }

  /** `body`: the payload itself, to be stored in the database with its row (then `written.storedPath` is database/<id>). */
  private async register(id: string, name: string, written: { storedPath: string; sha256: string; size: number; compression?: Compression | null }, claim: IdempotencyClaim | undefined, body?: Buffer): Promise<Accepted> {
    const result = await unavailableOnFailure(() =>
      this.committer.commit({ id, source: 'api', originalName: name, storedPath: written.storedPath, sha256: written.sha256, sizeBytes: written.size, compression: written.compression }, claim, body),
    );
    // A concurrent request won the key with another body: this one was not stored.
    if (result.reusedKey && claim) throw keyReused(claim.key, result.rawId);
    return { rawId: result.rawId, replayed: result.replayedKey };
  }

  private count(endpoint: string, kind: PayloadKind | 'file', bytes: number): void {
    this.metrics.accepted.inc({ endpoint, kind });
    this.metrics.bytes.inc(bytes);
  }

  async status(rawId: string): Promise<IngestStatusDto> {
    const row = await this.ledger.get(rawId);
    if (!row) throw ApiException.notFound('raw_id', rawId);
    return this.statusOf(row);
  }

  /** The status answer for a ledger row already read (a replay answers the row it queued, whatever happened since). */
  async statusOf(row: IngestFile): Promise<IngestStatusDto> {
    const errors = await this.ds.getRepository(IngestError).find({ where: { fileId: row.id }, order: { line: 'ASC', id: 'ASC' }, take: ROW_ERRORS_SHOWN });
    return {
      raw_id: row.id,
      status: row.status,
      kind: row.kind,
      source: row.source,
      original_name: row.originalName,
      size_bytes: Number(row.sizeBytes),
      sha256: row.sha256.trim(),
      rows_total: Number(row.rowsTotal),
      rows_loaded: Number(row.rowsLoaded),
      rows_rejected: Number(row.rowsRejected),
      readings_loaded: readingsOf(row.rowsWrittenByTable),
      rows_written: Number(row.rowsWritten),
      rows_written_by_table: row.rowsWrittenByTable,
      error: row.error,
      errors: errors.map((e) => ({ line: e.line ?? null, column: e.column ?? null, rule: e.rule, message: e.message, raw: e.raw ?? null })),
      duplicate_of: row.duplicateOf,
      attempts: row.attempts,
      replays: row.replays,
      received_at: new Date(row.createdAt).toISOString(),
      finished_at: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
    };
  }
}

export function unsupportedMediaType(got: string | null, allowed: string[]): ApiException {
  return new ApiException(
    HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    'unsupported_media_type',
    `Content-Type ${got ?? '(none)'} is not accepted here; send ${allowed.join(' or ')}`,
    { content_type: got, accepted: allowed },
  );
}

/** 422: an Idempotency-Key sent again with another request (payment APIs answer the same). */
function keyReused(key: string, rawId: string): ApiException {
  return new ApiException(
    HttpStatus.UNPROCESSABLE_ENTITY,
    'idempotency_key_reused',
    `the Idempotency-Key ${JSON.stringify(key)} was already used with another request (a different body, format or file name) for raw_id ${rawId}; send a new key for a new payload`,
    { idempotency_key: key, raw_id: rawId },
  );
}

/** Passes the chunks on, hashing them on the way. */
async function* hashing(source: AsyncIterable<Buffer>, hash: Hash): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Storage or database failures: nothing was accepted, the client should retry. The cause goes to the log only. */
function unavailable(e: unknown): ApiException {
  new Logger('IngestService').error(`a payload could not be stored: ${(e as Error).message}`);
  return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, 'service_unavailable', 'the payload could not be stored durably; nothing was accepted — retry (with the same Idempotency-Key)');
}

async function unavailableOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiException) throw e;
    throw unavailable(e);
  }
}
