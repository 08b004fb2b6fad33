import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One claimed version of an object-store object; its ledger row is `fileId`. */
@Entity('s3_objects')
export class S3Object {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  source!: string;

  @PrimaryColumn({ type: 'text' })
  bucket!: string;

  @PrimaryColumn({ type: 'text' })
  key!: string;

  @PrimaryColumn({ type: 'text' })
  etag!: string;

  @Column({ name: 'file_id', type: 'uuid', unique: true })
  fileId!: string;

  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes!: string;

  @Column({ name: 'claimed_at', type: 'timestamptz' })
  claimedAt!: Date;

  /** When the source's after-load action (keep, delete, move, quarantine report) was done. */
  @Column({ name: 'settled_at', type: 'timestamptz', nullable: true })
  settledAt!: Date | null;

  /** `kept`, `deleted`, or the key the object (or its error report) is at now. */
  @Column({ name: 'settled_as', type: 'text', nullable: true })
  settledAs!: string | null;
}
