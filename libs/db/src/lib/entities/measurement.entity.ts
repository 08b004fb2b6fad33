import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity('measurements')
export class Measurement {
  @PrimaryColumn({ name: 'timestamp_utc', type: 'timestamptz' })
  timestampUtc!: Date;

  @Column({ type: 'double precision' })
  mean!: number;

  @Column({ name: 'std_dev', type: 'double precision' })
  stdDev!: number;

  @Column({ name: 'sample_count', type: 'int' })
  sampleCount!: number;

  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  /** Ledger created_at of that file: its place in arrival order, the tie-break of "the later file wins". */
  @Column({ name: 'file_created_at', type: 'timestamptz' })
  fileCreatedAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
