import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity('detection_events')
@Index('detection_events_time_idx', ['detectionTime'])
@Index('detection_events_vehicle_time_idx', ['vehicleId', 'detectionTime'])
export class DetectionEvent {
  @PrimaryColumn({ name: 'vehicle_id', type: 'text' })
  vehicleId!: string;

  @PrimaryColumn({ name: 'detection_time', type: 'timestamptz' })
  detectionTime!: Date;

  @PrimaryColumn({ name: 'object_type', type: 'text' })
  objectType!: string;

  @Column({ name: 'object_value', type: 'int' })
  objectValue!: number;

  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  /** Ledger created_at of that file: its place in arrival order, the tie-break of "the later file wins". */
  @Column({ name: 'file_created_at', type: 'timestamptz' })
  fileCreatedAt!: Date;
}
