import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isoUs } from '../http/sql.util';
import type { MeasurementDto } from './measurements.dto';

const COLUMNS = `${isoUs('m.timestamp_utc')} AS timestamp_utc, m.mean, m.std_dev, m.sample_count, m.file_id::text AS file_id`;

export interface MeasurementsRange {
  /** Inclusive lower bound (timestamptz text). */
  from?: string;
  /** Exclusive upper bound. */
  to?: string;
  /** Keyset position: rows strictly after this timestamp. */
  after?: string;
  limit: number;
}

/** Read-side SQL over measurements (primary key timestamp_utc). */
@Injectable()
export class MeasurementsRepository {
  constructor(private readonly db: DataSource) {}

  /** Oldest first over the primary key. */
  list(range: MeasurementsRange): Promise<MeasurementDto[]> {
    return this.db.query(
      `SELECT ${COLUMNS}
         FROM measurements m
        WHERE ($1::timestamptz IS NULL OR m.timestamp_utc >= $1::timestamptz)
          AND ($2::timestamptz IS NULL OR m.timestamp_utc <  $2::timestamptz)
          AND ($3::timestamptz IS NULL OR m.timestamp_utc >  $3::timestamptz)
        ORDER BY m.timestamp_utc
        LIMIT $4`,
      [range.from ?? null, range.to ?? null, range.after ?? null, range.limit],
    );
  }

  async get(timestampUtc: string): Promise<MeasurementDto | undefined> {
    const rows: MeasurementDto[] = await this.db.query(`SELECT ${COLUMNS} FROM measurements m WHERE m.timestamp_utc = $1::timestamptz`, [timestampUtc]);
    return rows[0];
  }
}
