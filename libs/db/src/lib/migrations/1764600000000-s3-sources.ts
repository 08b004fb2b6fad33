import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Object-store sources: `s3_objects` claims each object version once (source, bucket, key, ETag) and records
 * what became of it after its outcome; `s3_source_checkpoints` lets a listing pass resume where it stopped.
 * `file_id` is the ledger row written in the same transaction; no foreign key, so that the ledger can be
 * truncated or pruned on its own.
 */
export class S3Sources1764600000000 implements MigrationInterface {
  name = 'S3Sources1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE s3_objects (
        source varchar(32) NOT NULL,
        bucket text NOT NULL,
        key text NOT NULL,
        etag text NOT NULL,
        file_id uuid NOT NULL UNIQUE,
        size_bytes bigint NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        settled_at timestamptz,
        settled_as text,
        PRIMARY KEY (source, bucket, key, etag)
      )`);
    // The objects whose outcome is known but whose keep/delete/move has not been done yet.
    await q.query(`CREATE INDEX s3_objects_unsettled_idx ON s3_objects (claimed_at) WHERE settled_at IS NULL`);
    await q.query(`CREATE TABLE s3_source_checkpoints (
        source varchar(32) PRIMARY KEY,
        bucket text NOT NULL,
        start_after text,
        generation int NOT NULL DEFAULT 0,
        objects_listed bigint NOT NULL DEFAULT 0,
        pass_started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE s3_source_checkpoints`);
    await q.query(`DROP TABLE s3_objects`);
  }
}
