import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The readings primary key carries value and file_id in its leaves, so a one-sensor range query is an
 * index-only scan: a sensor's readings sit side by side in the index, whereas in the heap they are spread
 * over every page loaded at the same time (each file holds many sensors). It costs index size (about the
 * heap's again) and some load time, and pays off once autovacuum has marked the loaded pages all-visible.
 * Rebuilding the key locks the table; on a large existing table run this in a maintenance window.
 */
export class CoveringReadingsKey1764300000000 implements MigrationInterface {
  name = 'CoveringReadingsKey1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE raw_sensor_data DROP CONSTRAINT raw_sensor_data_pkey, ADD CONSTRAINT raw_sensor_data_pkey PRIMARY KEY (sensor_id, ts) INCLUDE (value, file_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE raw_sensor_data DROP CONSTRAINT raw_sensor_data_pkey, ADD CONSTRAINT raw_sensor_data_pkey PRIMARY KEY (sensor_id, ts)`);
  }
}
