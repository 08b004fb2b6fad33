import { Column, Entity, PrimaryColumn } from 'typeorm';

export type AggregateBucket = 'hour' | 'day';

/**
 * Per sensor and hour/day bucket: count, min, max, mean and population std dev. `m2` (sum of squared
 * deviations) lets partial aggregates of a new file merge exactly (Chan et al.) without a rescan.
 */
@Entity('aggregated_metrics')
export class AggregatedMetric {
  @PrimaryColumn({ name: 'sensor_id', type: 'int' })
  sensorId!: number;

  @PrimaryColumn({ type: 'varchar', length: 8 })
  bucket!: AggregateBucket;

  @PrimaryColumn({ name: 'bucket_start', type: 'timestamptz' })
  bucketStart!: Date;

  @Column({ type: 'bigint' })
  count!: string;

  @Column({ type: 'double precision' })
  min!: number;

  @Column({ type: 'double precision' })
  max!: number;

  @Column({ type: 'double precision' })
  mean!: number;

  @Column({ type: 'double precision' })
  m2!: number;

  @Column({
    name: 'std_dev',
    type: 'double precision',
    generatedType: 'STORED',
    asExpression: 'sqrt(greatest(m2, 0) / count)',
    insert: false,
    update: false,
  })
  stdDev!: number;
}
