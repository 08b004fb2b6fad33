import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * REST ingestion and replays:
 * - `ingest_idempotency_keys`: one row per (API key, Idempotency-Key) naming the raw_id it produced. The
 *   API key is stored as its SHA-256, never in clear.
 * - `ingest_files.replays`: how many times a terminal file was re-run (`attempts` restarts at 0 on each
 *   replay so the processor's attempt limit applies afresh; this keeps the history count).
 */
export class IngestApi1764200000000 implements MigrationInterface {
  name = 'IngestApi1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ingest_idempotency_keys (
        api_key_sha256 char(64) NOT NULL,
        idempotency_key varchar(255) NOT NULL,
        raw_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (api_key_sha256, idempotency_key)
      )`);
    await q.query(`CREATE INDEX ingest_idempotency_keys_created_idx ON ingest_idempotency_keys (created_at)`);
    await q.query(`ALTER TABLE ingest_files ADD COLUMN replays int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files DROP COLUMN replays`);
    await q.query(`DROP TABLE ingest_idempotency_keys`);
  }
}
