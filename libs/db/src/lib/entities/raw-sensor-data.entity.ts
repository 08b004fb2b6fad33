import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One reading per (sensor, timestamp). Loaded by COPY; no foreign keys on purpose (a per-row FK trigger
 * would dominate load time), integrity comes from the loader resolving sensor ids first.
 */
@Entity('raw_sensor_data')
export class RawSensorData {
  @PrimaryColumn({ name: 'sensor_id', type: 'int' })
  sensorId!: number;

  @PrimaryColumn({ type: 'timestamptz' })
  ts!: Date;

  @Column({ type: 'double precision' })
  value!: number;

  /** Lineage: the ledger row this reading came from. */
  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;
}
