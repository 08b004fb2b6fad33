import { microsToIso, parseIsoTimestamp, ZonedTime, type DetectionEventItemDto, type MeasurementDto, type VehicleStatusItemDto } from '@sluice/formats';
import type { PoolClient } from 'pg';
import { rowsOf } from '../ledger.repository';
import { recomputeDaysSql, recomputeHoursSql, upsertStagedReadingsSql } from '../sensor/aggregates.sql';
import type { SensorRegistry } from '../sensor/sensor-registry';
import { measurementStats } from './measurement-stats';

/** Items buffered before one set-based statement writes them. */
export const SINK_BATCH = 5_000;

/** Where a file stands in arrival order: "the later file wins" compares (file_created_at, file_id). */
export interface FileOrder {
  fileId: string;
  createdAt: string;
}

/**
 * Buffers validated records of one kind and writes each batch with ONE statement (unnest of column
 * arrays), never a statement per record. `written` counts rows inserted or changed.
 */
export interface RecordSink<T> {
  add(record: T, line: number): Promise<void>;
  /** Writes what is buffered; call once at the end of the file. */
  finish(): Promise<void>;
  readonly written: number;
}

const UTC = new ZonedTime('UTC');
/** Validated timestamps always parse; the text sent to PostgreSQL is normalised UTC with µs. */
const utc = (text: string) => microsToIso(parseIsoTimestamp(text, UTC));

abstract class BatchSink<T> implements RecordSink<T> {
  written = 0;
  protected pending = 0;

  constructor(
    protected readonly client: PoolClient,
    protected readonly file: FileOrder,
  ) {}

  async add(record: T, line: number): Promise<void> {
    this.push(record, line);
    if (++this.pending >= SINK_BATCH) await this.flush();
  }

  async finish(): Promise<void> {
    if (this.pending > 0) await this.flush();
  }

  protected async flush(): Promise<void> {
    this.pending = 0;
    this.written += await this.write();
  }

  protected abstract push(record: T, line: number): void;
  /** Writes the buffered batch, clears it, and returns the number of rows written. */
  protected abstract write(): Promise<number>;

  protected async count(sql: string, params: unknown[]): Promise<number> {
    return rowsOf<{ n: number }>(await this.client.query(sql, params))[0]?.n ?? 0;
  }
}

/**
 * vehicles_status: one row per vehicle holding the newest report. A row changes when the incoming report
 * is newer, or equally new from a later file (ledger created_at, then file id); an older report never
 * overwrites. Within a file the later line wins. Re-loading a file changes nothing.
 */
export class VehicleStatusSink extends BatchSink<VehicleStatusItemDto> {
  private ids: string[] = [];
  private times: string[] = [];
  private statuses: string[] = [];
  private lines: number[] = [];

  protected push(r: VehicleStatusItemDto, line: number): void {
    this.ids.push(r.vehicle_id);
    this.times.push(utc(r.report_time));
    this.statuses.push(r.status);
    this.lines.push(line);
  }

  protected async write(): Promise<number> {
    const params = [this.file.fileId, this.file.createdAt, this.ids, this.times, this.statuses, this.lines];
    this.ids = [];
    this.times = [];
    this.statuses = [];
    this.lines = [];
    return this.count(
      `WITH up AS (
         INSERT INTO vehicles_status AS v (vehicle_id, report_time, status, file_id, file_created_at)
         SELECT DISTINCT ON (vid) vid, rt, st, $1::uuid, $2::timestamptz
         FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::int[]) AS t(vid, rt, st, ln)
         ORDER BY vid, rt DESC, ln DESC
         ON CONFLICT (vehicle_id) DO UPDATE
           SET report_time = excluded.report_time, status = excluded.status, file_id = excluded.file_id,
               file_created_at = excluded.file_created_at, updated_at = now()
           WHERE (excluded.report_time, excluded.file_created_at, excluded.file_id) > (v.report_time, v.file_created_at, v.file_id)
              OR (excluded.file_id = v.file_id AND excluded.report_time = v.report_time AND excluded.status IS DISTINCT FROM v.status)
         RETURNING 1)
       SELECT count(*)::int AS n FROM up`,
      params,
    );
  }
}

/**
 * detection_events: one row per (vehicle, detection_time, object_type). ON CONFLICT DO UPDATE, guarded:
 * a later file (ledger order) may correct a count, a replay of an older file never overwrites a newer
 * one, and a file's own later line wins over its earlier one.
 */
export class DetectionSink extends BatchSink<DetectionEventItemDto> {
  private ids: string[] = [];
  private times: string[] = [];
  private types: string[] = [];
  private values: number[] = [];
  private order: number[] = [];
  private seq = 0;

  protected push(r: DetectionEventItemDto, _line: number): void {
    const t = utc(r.detection_time);
    for (const d of r.detections) {
      this.ids.push(r.vehicle_id);
      this.times.push(t);
      this.types.push(d.object_type);
      this.values.push(d.object_value);
      this.order.push(this.seq++);
    }
  }

  protected async write(): Promise<number> {
    if (!this.ids.length) return 0;
    const params = [this.file.fileId, this.file.createdAt, this.ids, this.times, this.types, this.values, this.order];
    this.ids = [];
    this.times = [];
    this.types = [];
    this.values = [];
    this.order = [];
    return this.count(
      `WITH up AS (
         INSERT INTO detection_events AS d (vehicle_id, detection_time, object_type, object_value, file_id, file_created_at)
         SELECT DISTINCT ON (vid, dt, ot) vid, dt, ot, val, $1::uuid, $2::timestamptz
         FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::int[], $7::int[]) AS t(vid, dt, ot, val, seq)
         ORDER BY vid, dt, ot, seq DESC
         ON CONFLICT (vehicle_id, detection_time, object_type) DO UPDATE
           SET object_value = excluded.object_value, file_id = excluded.file_id, file_created_at = excluded.file_created_at
           WHERE (excluded.file_created_at, excluded.file_id) > (d.file_created_at, d.file_id)
              OR (excluded.file_id = d.file_id AND excluded.object_value IS DISTINCT FROM d.object_value)
         RETURNING 1)
       SELECT count(*)::int AS n FROM up`,
      params,
    );
  }
}

/**
 * measurements: one row per timestamp_utc with mean, population std dev and sample count, computed here
 * (compensated two-pass). The same timestamp again replaces them, under the same later-file guard.
 */
export class MeasurementSink extends BatchSink<MeasurementDto> {
  private times: string[] = [];
  private means: number[] = [];
  private stds: number[] = [];
  private counts: number[] = [];
  private lines: number[] = [];

  protected push(r: MeasurementDto, line: number): void {
    const s = measurementStats(r.data);
    this.times.push(utc(r.time_stamp));
    this.means.push(s.mean);
    this.stds.push(s.stdDev);
    this.counts.push(s.count);
    this.lines.push(line);
  }

  protected async write(): Promise<number> {
    const params = [this.file.fileId, this.file.createdAt, this.times, this.means, this.stds, this.counts, this.lines];
    this.times = [];
    this.means = [];
    this.stds = [];
    this.counts = [];
    this.lines = [];
    return this.count(
      `WITH up AS (
         INSERT INTO measurements AS m (timestamp_utc, mean, std_dev, sample_count, file_id, file_created_at)
         SELECT DISTINCT ON (ts) ts, mean, sd, n, $1::uuid, $2::timestamptz
         FROM unnest($3::timestamptz[], $4::float8[], $5::float8[], $6::int[], $7::int[]) AS t(ts, mean, sd, n, ln)
         ORDER BY ts, ln DESC
         ON CONFLICT (timestamp_utc) DO UPDATE
           SET mean = excluded.mean, std_dev = excluded.std_dev, sample_count = excluded.sample_count,
               file_id = excluded.file_id, file_created_at = excluded.file_created_at, updated_at = now()
           WHERE (excluded.file_created_at, excluded.file_id) > (m.file_created_at, m.file_id)
              OR (excluded.file_id = m.file_id AND (excluded.mean, excluded.std_dev, excluded.sample_count) IS DISTINCT FROM (m.mean, m.std_dev, m.sample_count))
         RETURNING 1)
       SELECT count(*)::int AS n FROM up`,
      params,
    );
  }
}

export interface SensorReading {
  sensor: string;
  ts: string;
  value: number;
}

const STAGE = 'sluice_reading_stage';
const TOUCHED = 'sluice_reading_touched';

/**
 * NDJSON sensor readings → raw_sensor_data by sensor name (a new name creates the sensor). Batches are
 * staged in a temp table; at the end one upsert writes new keys and changed values (a later line wins
 * within the file), and the touched hour/day buckets are recomputed from raw_sensor_data, so
 * aggregated_metrics stays equal to a recomputation whatever was there before.
 */
export class SensorReadingSink extends BatchSink<SensorReading> {
  private names: string[] = [];
  private times: string[] = [];
  private values: number[] = [];
  private lines: number[] = [];
  private staged = false;

  constructor(
    client: PoolClient,
    file: FileOrder,
    private readonly sensors: SensorRegistry,
  ) {
    super(client, file);
  }

  protected push(r: SensorReading, line: number): void {
    this.names.push(r.sensor);
    this.times.push(utc(r.ts));
    this.values.push(r.value);
    this.lines.push(line);
  }

  protected async write(): Promise<number> {
    if (!this.staged) {
      await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (sensor_id int NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, line int NOT NULL) ON COMMIT DROP`);
      await this.client.query(`TRUNCATE ${STAGE}`);
      this.staged = true;
    }
    await this.sensors.resolveNames(this.names);
    const ids = this.names.map((n) => this.sensors.cachedName(n) as number);
    await this.client.query(`INSERT INTO ${STAGE} SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::float8[], $4::int[])`, [ids, this.times, this.values, this.lines]);
    this.names = [];
    this.times = [];
    this.values = [];
    this.lines = [];
    return 0;
  }

  override async finish(): Promise<void> {
    await super.finish();
    if (!this.staged) return;
    await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED} (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
    await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED}_day (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
    await this.client.query(`TRUNCATE ${TOUCHED}, ${TOUCHED}_day`);
    this.written += await this.count(
      upsertStagedReadingsSql(STAGE, TOUCHED),
      [this.file.fileId],
    );
    await this.client.query(recomputeHoursSql(TOUCHED));
    await this.client.query(`INSERT INTO ${TOUCHED}_day SELECT DISTINCT sensor_id, date_trunc('day', start, 'UTC') FROM ${TOUCHED}`);
    await this.client.query(recomputeDaysSql(`${TOUCHED}_day`));
  }
}
