import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { openExportCursor } from '../http/export-stream';
import { isoUs, toCount } from '../http/sql.util';
import type { AggregateDto, Bucket, SensorDto } from './sensors.dto';

export interface ReadingsRange {
  /** Inclusive lower bound (timestamptz text). */
  from?: string;
  /** Exclusive upper bound. */
  to?: string;
  /** Keyset position: readings strictly after this timestamp. */
  after?: string;
  offset: number;
  limit: number;
}

/**
 * A page of readings as JSON text in pieces (each a comma-separated run of ReadingDto objects), the last
 * timestamp on it, and whether more follow.
 */
export interface ReadingsPage {
  readingsJson: string[];
  lastTs: string | null;
  more: boolean;
}

/**
 * Readings per piece of a rendered page: ~30 KB of text, so each piece stays a young-generation string.
 * One string for a whole page (150 KB for a day of minutes) would be a large V8 object, and a steady
 * stream of those forces old-generation collections whose pauses make the latency tail.
 */
const READINGS_PER_PIECE = 256;

/** How a reading's JSON text starts; its timestamp follows, up to the next quote. */
const READING_PREFIX = '{"ts":"';

/** Readings as JSON text, `READINGS_PER_PIECE` to a piece; the pieces joined with "," make the array's body. */
function readingsJsonPieces(readings: string[]): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < readings.length; start += READINGS_PER_PIECE) {
    pieces.push(readings.slice(start, start + READINGS_PER_PIECE).join(','));
  }
  return pieces;
}

/** `undefined` when the sensor does not exist; an empty list when it has nothing in range. */
export type SensorRows<T> = T[] | undefined;

/** Read-side SQL over sensors, raw_sensor_data and aggregated_metrics: one parameterised query per call. */
@Injectable()
export class SensorsRepository implements OnApplicationBootstrap {
  private readonly logger = new Logger(SensorsRepository.name);

  constructor(private readonly db: DataSource) {}

  /**
   * Before the API serves, a page is read once for a name no sensor has (the empty one), so that the first
   * reader does not pay for the statement's first run and the code's first pass.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.readingsPage('', { offset: 0, limit: 1 }).catch((e: Error) => this.logger.warn(`could not read a page before serving: ${e.message}`));
  }

  /**
   * Counts come from the day aggregates (a few hundred rows a sensor), first/last from the PK
   * (sensor_id, ts) with one index probe each way: constant work per sensor however many readings.
   */
  async listSensors(): Promise<SensorDto[]> {
    const rows: { name: string; uuid: string | null; device: string | null; metric: string | null; reading_count: string; first_ts: string | null; last_ts: string | null }[] =
      await this.db.query(`
        SELECT s.name, s.uuid::text AS uuid, s.device, s.metric,
               COALESCE((SELECT sum(a.count) FROM aggregated_metrics a WHERE a.sensor_id = s.id AND a.bucket = 'day'), 0)::text AS reading_count,
               ${isoUs('f.ts')} AS first_ts,
               ${isoUs('l.ts')} AS last_ts
          FROM sensors s
          LEFT JOIN LATERAL (SELECT r.ts FROM raw_sensor_data r WHERE r.sensor_id = s.id ORDER BY r.ts ASC LIMIT 1) f ON true
          LEFT JOIN LATERAL (SELECT r.ts FROM raw_sensor_data r WHERE r.sensor_id = s.id ORDER BY r.ts DESC LIMIT 1) l ON true
         ORDER BY s.name`);
    return rows.map((r) => ({ ...r, reading_count: toCount(r.reading_count) }));
  }

  /**
   * One page of a sensor's readings in time order, over the PK range; `limit + 1` rows are read to tell
   * whether more follow. Each row is one reading's JSON text (a single string: no row object, no number
   * parsing), joined into pieces here: joining them in PostgreSQL too (string_agg) cost it about three
   * times the CPU of reading the rows (5–6 ms against 2 ms for a day of minutes). The sensor's id is looked
   * up inside the statement (one round trip); only an empty page asks again whether the sensor exists.
   * NULL parameters are folded away by the planner.
   */
  async readingsPage(name: string, range: ReadingsRange): Promise<ReadingsPage | undefined> {
    const pool = (this.db.driver as PostgresDriver).master as Pool;
    const { rows } = await pool.query<[string]>({
      text: `SELECT concat('${READING_PREFIX}', ${isoUs('r.ts')}, '","value":', to_json(r.value), ',"file_id":"', r.file_id, '"}')
               FROM raw_sensor_data r
              WHERE r.sensor_id = (SELECT id FROM sensors WHERE name = $1)
                AND ($2::timestamptz IS NULL OR r.ts >= $2::timestamptz)
                AND ($3::timestamptz IS NULL OR r.ts <  $3::timestamptz)
                AND ($4::timestamptz IS NULL OR r.ts >  $4::timestamptz)
              ORDER BY r.ts
             OFFSET $5 LIMIT $6 + 1`,
      values: [name, range.from ?? null, range.to ?? null, range.after ?? null, range.offset, range.limit],
      rowMode: 'array',
    });
    if (rows.length === 0 && (await this.sensorId(name)) === undefined) return undefined;
    const readings = rows.slice(0, range.limit).map((r) => r[0]);
    const last = readings.at(-1);
    return {
      readingsJson: readingsJsonPieces(readings),
      lastTs: last === undefined ? null : last.slice(READING_PREFIX.length, last.indexOf('"', READING_PREFIX.length)),
      more: rows.length > range.limit,
    };
  }

  /** Buckets whose start lies in [from, to), oldest first. */
  async aggregates(name: string, bucket: Bucket, from?: string, to?: string): Promise<SensorRows<AggregateDto>> {
    const rows: { bucket_start: string | null; count: string | null; min: number; max: number; mean: number; std_dev: number }[] = await this.db.query(
      `SELECT ${isoUs('a.bucket_start')} AS bucket_start, a.count::text AS count, a.min, a.max, a.mean, a.std_dev
         FROM sensors s
         LEFT JOIN LATERAL (
           SELECT a.bucket_start, a.count, a.min, a.max, a.mean, a.std_dev
             FROM aggregated_metrics a
            WHERE a.sensor_id = s.id AND a.bucket = $2
              AND ($3::timestamptz IS NULL OR a.bucket_start >= $3::timestamptz)
              AND ($4::timestamptz IS NULL OR a.bucket_start <  $4::timestamptz)
            ORDER BY a.bucket_start
         ) a ON true
        WHERE s.name = $1
        ORDER BY a.bucket_start`,
      [name, bucket, from ?? null, to ?? null],
    );
    if (rows.length === 0) return undefined;
    return rows
      .filter((r) => r.bucket_start !== null)
      .map((r) => ({ bucket_start: r.bucket_start as string, count: toCount(r.count), min: r.min, max: r.max, mean: r.mean, std_dev: r.std_dev }));
  }

  async sensorId(name: string): Promise<number | undefined> {
    const rows: { id: number }[] = await this.db.query(`SELECT id FROM sensors WHERE name = $1`, [name]);
    return rows[0]?.id;
  }

  /** Every reading of one sensor in [from, to) as a stream of `[ts, value, file_id]` arrays (see openExportCursor). */
  exportReadings(sensorId: number, from?: string, to?: string): Promise<Readable> {
    const pool = (this.db.driver as PostgresDriver).master as Pool;
    return openExportCursor(
      pool,
      `SELECT ${isoUs('r.ts')} AS ts, r.value, r.file_id::text AS file_id
         FROM raw_sensor_data r
        WHERE r.sensor_id = $1
          AND ($2::timestamptz IS NULL OR r.ts >= $2::timestamptz)
          AND ($3::timestamptz IS NULL OR r.ts <  $3::timestamptz)
        ORDER BY r.ts`,
      [sensorId, from ?? null, to ?? null],
      this.logger,
      `sensor ${sensorId}`,
    );
  }
}
