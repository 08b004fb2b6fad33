import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bodies in ingest_payloads are compressed with lz4 instead of PostgreSQL's default pglz. A body of a few KB
 * is compressed as its row is written, inside the ingest-api's commit: pglz took ~10% of PostgreSQL's CPU
 * under a POST /ingest load, lz4 about half of pglz's time on the same rows, and lz4 reads back faster too.
 * Rows already stored keep pglz (PostgreSQL reads both). A server built without lz4 keeps pglz: nothing else
 * depends on it.
 */
export class PayloadCompression1765500000000 implements MigrationInterface {
  name = 'PayloadCompression1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DO $$
      BEGIN
        ALTER TABLE ingest_payloads ALTER COLUMN body SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE 'this PostgreSQL has no lz4: ingest_payloads keeps pglz';
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_payloads ALTER COLUMN body SET COMPRESSION default`);
  }
}
