import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Small POST /ingest bodies are kept here, byte for byte, written in the same transaction as their ledger
 * row: one commit makes a whole batch of payloads durable, where files would need an fsync each.
 */
export class IngestPayloads1764400000000 implements MigrationInterface {
  name = 'IngestPayloads1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ingest_payloads (
        file_id uuid PRIMARY KEY,
        body bytea NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_payloads`);
  }
}
