import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Latest state per vehicle: the status with the newest report_time wins, whatever the arrival order. */
@Entity('vehicles_status')
export class VehicleStatus {
  @PrimaryColumn({ name: 'vehicle_id', type: 'text' })
  vehicleId!: string;

  @Column({ name: 'report_time', type: 'timestamptz' })
  reportTime!: Date;

  @Column({ type: 'text' })
  status!: string;

  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  /** Ledger created_at of that file: its place in arrival order, the tie-break of "the later file wins". */
  @Column({ name: 'file_created_at', type: 'timestamptz' })
  fileCreatedAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
