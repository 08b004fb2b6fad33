import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Compressed files: `compression` says how a stored file is packed (gzip, zip; null for plain), so the
 * processor knows its stored bytes are not its content. A zip's members are ledger rows of their own:
 * `archive_id` names the archive's row and `member_index` the member's place in its central directory;
 * the unique index makes registering an archive's members a step that cannot add one twice.
 */
export class CompressedFiles1764800000000 implements MigrationInterface {
  name = 'CompressedFiles1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files ADD COLUMN compression varchar(8), ADD COLUMN archive_id uuid, ADD COLUMN member_index int`);
    await q.query(`CREATE UNIQUE INDEX ingest_files_archive_member_idx ON ingest_files (archive_id, member_index) WHERE archive_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ingest_files_archive_member_idx`);
    await q.query(`ALTER TABLE ingest_files DROP COLUMN member_index, DROP COLUMN archive_id, DROP COLUMN compression`);
  }
}
