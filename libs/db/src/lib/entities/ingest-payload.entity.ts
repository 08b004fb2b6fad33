import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The exact bytes of a small POST /ingest body; its ledger row has the same id. */
@Entity('ingest_payloads')
export class IngestPayload {
  @PrimaryColumn({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  @Column({ type: 'bytea' })
  body!: Buffer;
}
