import { Injectable } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { rowsOf, type Sql } from '@sluice/loading';
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

/** SQL: the key row is older than the TTL (parameter `ttl`, in hours; 0 never expires). */
const EXPIRED = (ttl: string, createdAt = 'created_at') => `(${ttl}::int > 0 AND ${createdAt} < now() - make_interval(hours => ${ttl}::int))`;

/**
 * `ingest_idempotency_keys`: (API key, Idempotency-Key) → raw_id. A key is claimed in the same transaction
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

  async find(scope: IdempotencyScope): Promise<string | null> {
    const rows = rowsOf<{ raw_id: string }>(
      await this.ds.query(`SELECT raw_id FROM ingest_idempotency_keys WHERE api_key_sha256 = $1 AND idempotency_key = $2 AND NOT ${EXPIRED('$3')}`, [
        scope.apiKeySha256,
        scope.key,
        this.ttlHours,
      ]),
    );
    return rows[0]?.raw_id ?? null;
  }

  /**
   * Claims keys for raw ids (in key order, so concurrent batches lock them in the same order: no deadlock) inside the caller's transaction. Returns, per input, the raw id the key names
   * afterwards: its own when it won, an earlier one when the key was taken (by another request, or earlier
   * in the same batch). An expired key is taken over.
   */
  async claimMany(sql: Sql, claims: ReadonlyArray<{ scope: IdempotencyScope; rawId: string }>): Promise<string[]> {
    if (claims.length === 0) return [];
    const hashes = claims.map((c) => c.scope.apiKeySha256);
    const keys = claims.map((c) => c.scope.key);
    // DISTINCT ON: the first claim of a key in the batch wins (one row can be updated once per statement).
    await sql.query(
      `INSERT INTO ingest_idempotency_keys AS i (api_key_sha256, idempotency_key, raw_id)
       SELECT DISTINCT ON (h, k) h, k, r FROM unnest($1::text[], $2::text[], $3::uuid[]) WITH ORDINALITY AS t(h, k, r, n) ORDER BY h, k, n
       ON CONFLICT (api_key_sha256, idempotency_key) DO UPDATE SET raw_id = EXCLUDED.raw_id, created_at = now() WHERE ${EXPIRED('$4', 'i.created_at')}`,
      [hashes, keys, claims.map((c) => c.rawId), this.ttlHours],
    );
    const rows = rowsOf<{ h: string; k: string; raw_id: string }>(
      await sql.query(
        `SELECT i.api_key_sha256 AS h, i.idempotency_key AS k, i.raw_id FROM ingest_idempotency_keys i
         JOIN unnest($1::text[], $2::text[]) AS t(h, k) ON i.api_key_sha256 = t.h AND i.idempotency_key = t.k`,
        [hashes, keys],
      ),
    );
    const owner = new Map(rows.map((r) => [`${r.h}\u0000${r.k}`, r.raw_id]));
    return claims.map((c) => owner.get(`${c.scope.apiKeySha256}\u0000${c.scope.key}`) ?? c.rawId);
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
