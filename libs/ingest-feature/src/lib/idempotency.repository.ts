import { Injectable } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { rowsOf } from '@sluice/db';
import type { Sql } from '@sluice/loading';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';

/** An Idempotency-Key as stored: scoped by the SHA-256 of the API key that sent it (keys never stored in clear). */
export interface IdempotencyScope {
  apiKeySha256: string;
  key: string;
}

export function idempotencyScope(apiKey: string | undefined, key: string): IdempotencyScope {
  return { apiKeySha256: createHash('sha256').update(apiKey ?? '', 'utf8').digest('hex'), key };
}

/** A key as claimed: with the digest of the request it came with (see requestDigest). */
export interface IdempotencyClaim extends IdempotencyScope {
  requestSha256: string;
}

/** What a key names: the raw_id it produced and the digest of its request (null for a key stored before digests were kept). */
export interface IdempotencyOwner {
  rawId: string;
  requestSha256: string | null;
}

/**
 * What makes two requests "the same" for an Idempotency-Key: the route, what the route is told about the
 * content (the format of POST /ingest, the file name of an upload) and the SHA-256 of the content. Hashing
 * the content's digest, not the content, keeps it cheap: the content is hashed once, for the ledger anyway.
 */
export function requestDigest(route: 'ingest' | 'files', descriptor: string, contentSha256: string): string {
  return createHash('sha256').update([route, descriptor, contentSha256].join('\u0000'), 'utf8').digest('hex');
}

/** The same key with another request: the first request's answer would be a lie for this one. */
export function isKeyReused(owner: IdempotencyOwner, requestSha256: string): boolean {
  return owner.requestSha256 !== null && owner.requestSha256 !== requestSha256;
}

/** SQL: the key row is older than the TTL (parameter `ttl`, in hours; 0 never expires). */
const EXPIRED = (ttl: string, createdAt = 'created_at') => `(${ttl}::int > 0 AND ${createdAt} < now() - make_interval(hours => ${ttl}::int))`;

/**
 * `ingest_idempotency_keys`: (API key, Idempotency-Key) → raw_id and the request's digest. A key is claimed in the same transaction
 * as the ledger row it names, so a key never points at a payload that was not stored, and a payload is
 * never stored twice under one key. A key lives IDEMPOTENCY_KEY_TTL_HOURS (0: for ever): an older one
 * counts as absent at once, whether or not deleteExpired has removed it yet.
 */
@Injectable()
export class IdempotencyRepository {
  private readonly ttlHours: number;

  constructor(
    private readonly ds: DataSource,
    config: IngestApiConfig,
  ) {
    this.ttlHours = config.IDEMPOTENCY_KEY_TTL_HOURS;
  }

  async find(scope: IdempotencyScope): Promise<IdempotencyOwner | null> {
    const rows = rowsOf<{ raw_id: string; request_sha256: string | null }>(
      await this.ds.query(`SELECT raw_id, request_sha256 FROM ingest_idempotency_keys WHERE api_key_sha256 = $1 AND idempotency_key = $2 AND NOT ${EXPIRED('$3')}`, [
        scope.apiKeySha256,
        scope.key,
        this.ttlHours,
      ]),
    );
    return rows[0] ? { rawId: rows[0].raw_id, requestSha256: rows[0].request_sha256 } : null;
  }

  /**
   * Claims keys for raw ids (in key order, so concurrent batches lock them in the same order: no deadlock) inside the caller's transaction. Returns, per input, what the key names
   * afterwards: its own raw id when it won, an earlier one when the key was taken (by another request, or
   * earlier in the same batch), with that request's digest. An expired key is taken over.
   */
  async claimMany(sql: Sql, claims: ReadonlyArray<{ scope: IdempotencyClaim; rawId: string }>): Promise<IdempotencyOwner[]> {
    if (claims.length === 0) return [];
    const hashes = claims.map((c) => c.scope.apiKeySha256);
    const keys = claims.map((c) => c.scope.key);
    // DISTINCT ON: the first claim of a key in the batch wins (one row can be updated once per statement).
    await sql.query(
      `INSERT INTO ingest_idempotency_keys AS i (api_key_sha256, idempotency_key, raw_id, request_sha256)
       SELECT DISTINCT ON (h, k) h, k, r, d FROM unnest($1::text[], $2::text[], $3::uuid[], $5::text[]) WITH ORDINALITY AS t(h, k, r, d, n) ORDER BY h, k, n
       ON CONFLICT (api_key_sha256, idempotency_key) DO UPDATE SET raw_id = EXCLUDED.raw_id, request_sha256 = EXCLUDED.request_sha256, created_at = now()
       WHERE ${EXPIRED('$4', 'i.created_at')}`,
      [hashes, keys, claims.map((c) => c.rawId), this.ttlHours, claims.map((c) => c.scope.requestSha256)],
    );
    const rows = rowsOf<{ h: string; k: string; raw_id: string; request_sha256: string | null }>(
      await sql.query(
        `SELECT i.api_key_sha256 AS h, i.idempotency_key AS k, i.raw_id, i.request_sha256 FROM ingest_idempotency_keys i
         JOIN unnest($1::text[], $2::text[]) AS t(h, k) ON i.api_key_sha256 = t.h AND i.idempotency_key = t.k`,
        [hashes, keys],
      ),
    );
    const owner = new Map(rows.map((r) => [`${r.h}\u0000${r.k}`, { rawId: r.raw_id, requestSha256: r.request_sha256 }]));
    return claims.map((c) => owner.get(`${c.scope.apiKeySha256}\u0000${c.scope.key}`) ?? { rawId: c.rawId, requestSha256: c.scope.requestSha256 });
  }

  /** Deletes expired keys, at most `limit` at a time (short statements); returns how many went. */
  async deleteExpired(limit = 10000): Promise<number> {
    if (this.ttlHours === 0) return 0;
    let total = 0;
    for (;;) {
      const [, deleted] = (await this.ds.query(
        `DELETE FROM ingest_idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM ingest_idempotency_keys WHERE ${EXPIRED('$1')} LIMIT $2))`,
        [this.ttlHours, limit],
      )) as [unknown, number];
      total += deleted;
      if (deleted < limit) return total;
    }
  }
}
