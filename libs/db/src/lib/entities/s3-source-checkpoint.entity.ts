import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where the current listing pass of an object-store source stands. */
@Entity('s3_source_checkpoints')
export class S3SourceCheckpoint {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  source!: string;

  @Column({ type: 'text' })
  bucket!: string;

  /** The last key of the last page handled; null at the start of a pass. */
  @Column({ name: 'start_after', type: 'text', nullable: true })
  startAfter!: string | null;

  /** Completed passes over the source. */
  @Column({ type: 'int', default: 0 })
  generation!: number;

  @Column({ name: 'objects_listed', type: 'bigint', default: 0 })
  objectsListed!: string;

  @Column({ name: 'pass_started_at', type: 'timestamptz' })
  passStartedAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
