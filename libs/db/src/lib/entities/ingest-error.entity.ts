import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A rejected record of a file that was otherwise loaded (or the first ones of a quarantined file). */
@Entity('ingest_errors')
@Index('ingest_errors_file_line_idx', ['fileId', 'line'])
export class IngestError {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id!: string;

  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  @Column({ type: 'int', nullable: true })
  line!: number | null;

  @Column({ type: 'text', nullable: true })
  column!: string | null;

  @Column({ type: 'varchar', length: 64 })
  rule!: string;

  @Column({ type: 'text' })
  message!: string;

  /** The offending line or value, capped. */
  @Column({ type: 'text', nullable: true })
  raw!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
