import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `ingest_idempotency_keys.request_sha256`: a digest of the request a key was first used with (route,
 * format or file name, SHA-256 of the content), so the same key with another request is refused instead
 * of answered with the first one's raw_id. Keys stored before have none (NULL): they keep replaying
 * whatever is sent under them until they expire (IDEMPOTENCY_KEY_TTL_HOURS).
 */
export class IdempotencyRequestDigest1764910000000 implements MigrationInterface {
  name = 'IdempotencyRequestDigest1764910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_idempotency_keys ADD COLUMN request_sha256 char(64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_idempotency_keys DROP COLUMN request_sha256`);
  }
}
