import type { DataTable } from '@sluice/contracts';
import { rowsOf } from '@sluice/db';
import { microsToIso, parseIsoTimestamp, ZonedTime, type DetectionEventItemDto, type MeasurementDto, type VehicleStatusItemDto } from '@sluice/formats';
import type { PoolClient } from 'pg';
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
 * arrays), never a statement per record. Records come from the sink's file, or (batches of API payloads)
 * each from its own file. `written` counts rows inserted or changed in `table`; `writtenBy` per file.
 */
export interface RecordSink<T> {
  /** The table the sink writes to. */
  readonly table: DataTable;
  add(record: T, line: number, file?: FileOrder): Promise<void>;
  /** Writes what is buffered; call once at the end of the file (or batch). */
  finish(): Promise<void>;
  readonly written: number;
  readonly writtenBy: ReadonlyMap<string, number>;
}

const UTC = new ZonedTime('UTC');
/** Validated timestamps always parse; the text sent to PostgreSQL is normalised UTC with µs. */
const utc = (text: string) => microsToIso(parseIsoTimestamp(text, UTC));

abstract class BatchSink<T> implements RecordSink<T> {
  abstract readonly table: DataTable;
  readonly writtenBy = new Map<string, number>();
  protected pending = 0;

  /** `file`: where records come from unless add() names their own. */
  constructor(
    protected readonly client: PoolClient,
    protected readonly file?: FileOrder,
  ) {}

  get written(): number {
    let n = 0;
    for (const v of this.writtenBy.values()) n += v;
    return n;
  }

  async add(record: T, line: number, file?: FileOrder): Promise<void> {
    const from = file ?? this.file;
    if (!from) throw new Error('a record without its file');
    this.push(record, line, from);
    if (++this.pending >= SINK_BATCH) await this.flush();
  }

  async finish(): Promise<void> {
    if (this.pending > 0) await this.flush();
  }

  protected async flush(): Promise<void> {
    this.pending = 0;
    await this.write();
  }

  protected abstract push(record: T, line: number, file: FileOrder): void;
  /** Writes the buffered batch and clears it; counts what it wrote with `countByFile`. */
  protected abstract write(): Promise<void>;

  /** Runs a statement returning `(file_id, n)` rows and adds them to writtenBy. */
  protected async countByFile(sql: string, params: unknown[]): Promise<void> {
    for (const r of rowsOf<{ file_id: string; n: number }>(await this.client.query(sql, params))) {
      this.writtenBy.set(r.file_id, (this.writtenBy.get(r.file_id) ?? 0) + r.n);
    }
  }
}

/** Per-row file columns of a multi-file batch. */
class FileColumns {
  ids: string[] = [];
  createdAts: string[] = [];

  push(file: FileOrder): void {
    this.ids.push(file.fileId);
    this.createdAts.push(file.createdAt);
  }

  take(): [string[], string[]] {
    const cols: [string[], string[]] = [this.ids, this.createdAts];
    this.ids = [];
    this.createdAts = [];
    return cols;
  }
}

/** Rows written by a `WITH up AS (… RETURNING file_id)` statement, per file. */
const COUNT_BY_FILE = `SELECT file_id::text AS file_id, count(*)::int AS n FROM up GROUP BY file_id`;

/**
 * vehicles_status: one row per vehicle holding the newest report. A row changes when the incoming report
 * is newer, or equally new from a later file (ledger created_at, then file id); an older report never
 * overwrites. Within a file the later line wins. Re-loading a file changes nothing.
 */
export class VehicleStatusSink extends BatchSink<VehicleStatusItemDto> {
  readonly table = 'vehicles_status';
  private ids: string[] = [];
  private times: string[] = [];
  private statuses: string[] = [];
  private lines: number[] = [];
  private files = new FileColumns();

  protected push(r: VehicleStatusItemDto, line: number, file: FileOrder): void {
    this.ids.push(r.vehicle_id);
    this.times.push(utc(r.report_time));
    this.statuses.push(r.status);
    this.lines.push(line);
    this.files.push(file);
  }

  protected async write(): Promise<void> {
    const params = [...this.files.take(), this.ids, this.times, this.statuses, this.lines];
    this.ids = [];
    this.times = [];
    this.statuses = [];
    this.lines = [];
    await this.countByFile(
      `WITH up AS (
         INSERT INTO vehicles_status AS v (vehicle_id, report_time, status, file_id, file_created_at)
         SELECT DISTINCT ON (vid) vid, rt, st, fid, fca
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::text[], $6::int[]) AS t(fid, fca, vid, rt, st, ln)
         ORDER BY vid, rt DESC, fca DESC, fid DESC, ln DESC
         ON CONFLICT (vehicle_id) DO UPDATE
           SET report_time = excluded.report_time, status = excluded.status, file_id = excluded.file_id,
               file_created_at = excluded.file_created_at, updated_at = now()
           WHERE (excluded.report_time, excluded.file_created_at, excluded.file_id) > (v.report_time, v.file_created_at, v.file_id)
              OR (excluded.file_id = v.file_id AND excluded.report_time = v.report_time AND excluded.status IS DISTINCT FROM v.status)
         RETURNING v.file_id)
       ${COUNT_BY_FILE}`,
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
  readonly table = 'detection_events';
  private ids: string[] = [];
  private times: string[] = [];
  private types: string[] = [];
  private values: number[] = [];
  private order: number[] = [];
  private seq = 0;
  private files = new FileColumns();

  protected push(r: DetectionEventItemDto, _line: number, file: FileOrder): void {
    const t = utc(r.detection_time);
    for (const d of r.detections) {
      this.ids.push(r.vehicle_id);
      this.times.push(t);
      this.types.push(d.object_type);
      this.values.push(d.object_value);
      this.order.push(this.seq++);
      this.files.push(file);
    }
  }

  protected async write(): Promise<void> {
    if (!this.ids.length) return;
    const params = [...this.files.take(), this.ids, this.times, this.types, this.values, this.order];
    this.ids = [];
    this.times = [];
    this.types = [];
    this.values = [];
    this.order = [];
    await this.countByFile(
      `WITH up AS (
         INSERT INTO detection_events AS d (vehicle_id, detection_time, object_type, object_value, file_id, file_created_at)
         SELECT DISTINCT ON (vid, dt, ot) vid, dt, ot, val, fid, fca
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::text[], $6::int[], $7::int[]) AS t(fid, fca, vid, dt, ot, val, seq)
         ORDER BY vid, dt, ot, fca DESC, fid DESC, seq DESC
         ON CONFLICT (vehicle_id, detection_time, object_type) DO UPDATE
           SET object_value = excluded.object_value, file_id = excluded.file_id, file_created_at = excluded.file_created_at
           WHERE (excluded.file_created_at, excluded.file_id) > (d.file_created_at, d.file_id)
              OR (excluded.file_id = d.file_id AND excluded.object_value IS DISTINCT FROM d.object_value)
         RETURNING d.file_id)
       ${COUNT_BY_FILE}`,
      params,
    );
  }
}

/**
 * measurements: one row per timestamp_utc with mean, population std dev and sample count, computed here
 * (compensated two-pass). The same timestamp again replaces them, under the same later-file guard.
 */
export class MeasurementSink extends BatchSink<MeasurementDto> {
  readonly table = 'measurements';
  private times: string[] = [];
  private means: number[] = [];
  private stds: number[] = [];
  private counts: number[] = [];
  private lines: number[] = [];
  private files = new FileColumns();

  protected push(r: MeasurementDto, line: number, file: FileOrder): void {
    const s = measurementStats(r.data);
    this.times.push(utc(r.time_stamp));
    this.means.push(s.mean);
    this.stds.push(s.stdDev);
    this.counts.push(s.count);
    this.lines.push(line);
    this.files.push(file);
  }

  protected async write(): Promise<void> {
    const params = [...this.files.take(), this.times, this.means, this.stds, this.counts, this.lines];
    this.times = [];
    this.means = [];
    this.stds = [];
    this.counts = [];
    this.lines = [];
    await this.countByFile(
      `WITH up AS (
         INSERT INTO measurements AS m (timestamp_utc, mean, std_dev, sample_count, file_id, file_created_at)
         SELECT DISTINCT ON (ts) ts, mean, sd, n, fid, fca
         FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[], $6::int[], $7::int[]) AS t(fid, fca, ts, mean, sd, n, ln)
         ORDER BY ts, fca DESC, fid DESC, ln DESC
         ON CONFLICT (timestamp_utc) DO UPDATE
           SET mean = excluded.mean, std_dev = excluded.std_dev, sample_count = excluded.sample_count,
               file_id = excluded.file_id, file_created_at = excluded.file_created_at, updated_at = now()
           WHERE (excluded.file_created_at, excluded.file_id) > (m.file_created_at, m.file_id)
              OR (excluded.file_id = m.file_id AND (excluded.mean, excluded.std_dev, excluded.sample_count) IS DISTINCT FROM (m.mean, m.std_dev, m.sample_count))
         RETURNING m.file_id)
       ${COUNT_BY_FILE}`,
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
  readonly table = 'raw_sensor_data';
  // One file at a time: the stage and the upsert are per file.
  private names: string[] = [];
  private times: string[] = [];
  private values: number[] = [];
  private lines: number[] = [];
  private staged = false;

  constructor(
    client: PoolClient,
    private readonly readingsFile: FileOrder,
    private readonly sensors: SensorRegistry,
  ) {
    super(client, readingsFile);
  }

  protected push(r: SensorReading, line: number): void {
    this.names.push(r.sensor);
    this.times.push(utc(r.ts));
    this.values.push(r.value);
    this.lines.push(line);
  }

  protected async write(): Promise<void> {
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
  }

  override async finish(): Promise<void> {
    await super.finish();
    if (!this.staged) return;
    await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED} (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
    await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED}_day (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
    await this.client.query(`TRUNCATE ${TOUCHED}, ${TOUCHED}_day`);
    const [upserted] = rowsOf<{ n: number }>(await this.client.query(upsertStagedReadingsSql(STAGE, TOUCHED), [this.readingsFile.fileId]));
    this.writtenBy.set(this.readingsFile.fileId, upserted?.n ?? 0);
    await this.client.query(recomputeHoursSql(TOUCHED));
    await this.client.query(`INSERT INTO ${TOUCHED}_day SELECT DISTINCT sensor_id, date_trunc('day', start, 'UTC') FROM ${TOUCHED}`);
    await this.client.query(recomputeDaysSql(`${TOUCHED}_day`));
  }
}
