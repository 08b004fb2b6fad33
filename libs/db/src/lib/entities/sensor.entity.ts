import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A sensor: `<device>/<metric>` for wide CSV, or a UUID (long CSV) whose name comes from a mapping file.
 * Until its mapping arrives, a UUID sensor is named by its UUID.
 */
@Entity('sensors')
export class Sensor {
  @PrimaryGeneratedColumn('identity', { type: 'int' })
  id!: number;

  @Column({ type: 'text', unique: true })
  name!: string;

  @Column({ type: 'uuid', nullable: true, unique: true })
  uuid!: string | null;

  @Column({ type: 'text', nullable: true })
  device!: string | null;

  @Column({ type: 'text', nullable: true })
  metric!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
