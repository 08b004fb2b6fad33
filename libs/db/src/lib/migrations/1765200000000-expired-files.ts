import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention of files, bodies and ledger rows. `ingest_files.expired_at` is when a file's bytes (its copy in
 * processed/ or quarantine/, or its body in ingest_payloads) were removed; the row itself stays, so its
 * sha256 still makes a re-drop of the same bytes a `duplicate`, and a replay of it is refused as expired.
 * Indexes:
 * - `ingest_files_unexpired_idx`: the rows whose bytes are still kept, by the area they are in (`processed`,
 *   `quarantine`, `database`) and when they finished: each retention sweep reads its area oldest first and
 *   stops at its horizon, without passing the rows it already expired or those of other areas (S3 objects).
 * - `ingest_files_finished_idx`: the ledger sweep's walk over finished rows, oldest first.
 * - `ingest_files_duplicate_of_idx`: "is this row still referenced by a duplicate" is asked for each row the
 *   ledger sweep would delete, and by the foreign key's check when it does (archive members are found by
 *   `ingest_files_archive_member_idx`).
 */
export class ExpiredFiles1765200000000 implements MigrationInterface {
  name = 'ExpiredFiles1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files ADD COLUMN expired_at timestamptz`);
    await q.query(`CREATE INDEX ingest_files_unexpired_idx ON ingest_files (split_part(stored_path, '/', 1), finished_at)
                   WHERE expired_at IS NULL AND finished_at IS NOT NULL`);
    await q.query(`CREATE INDEX ingest_files_finished_idx ON ingest_files (finished_at) WHERE finished_at IS NOT NULL`);
    await q.query(`CREATE INDEX ingest_files_duplicate_of_idx ON ingest_files (duplicate_of) WHERE duplicate_of IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of ['ingest_files_duplicate_of_idx', 'ingest_files_finished_idx', 'ingest_files_unexpired_idx']) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(`ALTER TABLE ingest_files DROP COLUMN expired_at`);
  }
}
