import { microsToIso } from '@sluice/formats';

export const HOUR_US = 3_600_000_000;

/** Running count/mean/m2/min/max of one (sensor, bucket): Welford while adding, Chan when merging. */
export class Bucket {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  constructor(
    readonly sensorId: number,
    /** Bucket index: hours (or days) since the epoch, UTC. */
    readonly index: number,
  ) {}

  add(v: number): void {
    const n = ++this.n;
    const d = v - this.mean;
    this.mean += d / n;
    this.m2 += d * (v - this.mean);
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(o: Bucket): void {
    if (o.n === 0) return;
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }
}

/** Hour buckets of one file, per sensor; days are rolled up from them at the end. */
export class HourAggregates {
  private readonly bySensor = new Map<number, Map<number, Bucket>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  bucket(sensorId: number, hour: number): Bucket {
    let hours = this.bySensor.get(sensorId);
    if (!hours) this.bySensor.set(sensorId, (hours = new Map()));
    let b = hours.get(hour);
    if (!b) {
      hours.set(hour, (b = new Bucket(sensorId, hour)));
      this.count++;
    }
    return b;
  }

  clear(): void {
    this.bySensor.clear();
    this.count = 0;
  }

  /** Rows for the merge statement, sorted by (sensor, bucket, start) to keep lock order across files. */
  toMergeRows(): AggregateRows {
    const rows = new AggregateRows();
    for (const sensorId of [...this.bySensor.keys()].sort((a, b) => a - b)) {
      const hours = [...(this.bySensor.get(sensorId) as Map<number, Bucket>).values()].sort((a, b) => a.index - b.index);
      const days = new Map<number, Bucket>();
      for (const h of hours) {
        const day = Math.floor(h.index / 24);
        let d = days.get(day);
        if (!d) days.set(day, (d = new Bucket(sensorId, day)));
        d.merge(h);
      }
      // 'day' < 'hour' in the key order of the primary key.
      for (const d of days.values()) rows.push(d, 'day', d.index * 24 * HOUR_US);
      for (const h of hours) rows.push(h, 'hour', h.index * HOUR_US);
    }
    return rows;
  }
}

/** Column arrays for `unnest` (one statement whatever the number of buckets). */
export class AggregateRows {
  sensorIds: number[] = [];
  buckets: string[] = [];
  starts: string[] = [];
  counts: number[] = [];
  mins: number[] = [];
  maxs: number[] = [];
  means: number[] = [];
  m2s: number[] = [];

  get length(): number {
    return this.sensorIds.length;
  }

  push(b: Bucket, bucket: 'hour' | 'day', startMicros: number): void {
    this.sensorIds.push(b.sensorId);
    this.buckets.push(bucket);
    this.starts.push(microsToIso(startMicros));
    this.counts.push(b.n);
    this.mins.push(b.min);
    this.maxs.push(b.max);
    this.means.push(b.mean);
    this.m2s.push(b.m2);
  }

  params(): unknown[] {
    return [this.sensorIds, this.buckets, this.starts, this.counts, this.mins, this.maxs, this.means, this.m2s];
  }
}
