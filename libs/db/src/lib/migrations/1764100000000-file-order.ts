import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * "The later file wins" needs the file's place in arrival order on the row it wrote: the ledger's
 * created_at of that file (a replay keeps it, so re-running an old file never beats a newer one).
 */
export class FileOrder1764100000000 implements MigrationInterface {
  name = 'FileOrder1764100000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of ['vehicles_status', 'detection_events', 'measurements']) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN file_created_at timestamptz NOT NULL DEFAULT '-infinity'`);
      await q.query(`UPDATE ${table} t SET file_created_at = f.created_at FROM ingest_files f WHERE f.id = t.file_id`);
      await q.query(`ALTER TABLE ${table} ALTER COLUMN file_created_at DROP DEFAULT`);
    }
    await q.query(`CREATE INDEX detection_events_vehicle_time_idx ON detection_events (vehicle_id, detection_time)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS detection_events_vehicle_time_idx`);
    for (const table of ['vehicles_status', 'detection_events', 'measurements']) await q.query(`ALTER TABLE ${table} DROP COLUMN file_created_at`);
  }
}
