import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a ledger row last entered the queue: its arrival, or its latest replay. created_at stays the
 * arrival (file order depends on it), so waiting and total times of a replayed file count from here.
 */
export class QueuedAt1764560000000 implements MigrationInterface {
  name = 'QueuedAt1764560000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files ADD COLUMN queued_at timestamptz`);
    await q.query(`UPDATE ingest_files SET queued_at = created_at`);
    await q.query(`ALTER TABLE ingest_files ALTER COLUMN queued_at SET DEFAULT now(), ALTER COLUMN queued_at SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_files DROP COLUMN queued_at`);
  }
}
