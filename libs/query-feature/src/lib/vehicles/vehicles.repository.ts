import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isoUs } from '../http/sql.util';
import type { DetectionDto, VehicleDto } from './vehicles.dto';

const VEHICLE_COLUMNS = `v.vehicle_id, v.status, ${isoUs('v.report_time')} AS report_time, v.file_id::text AS file_id, ${isoUs('v.updated_at')} AS updated_at`;

export interface DetectionsFilter {
  vehicleId?: string;
  objectType?: string;
  /** Inclusive lower bound (timestamptz text). */
  from?: string;
  /** Exclusive upper bound. */
  to?: string;
  /** Keyset position: (detection_time, vehicle_id, object_type) of the last row of the previous page. */
  after?: { time: string; vehicleId: string; objectType: string };
  limit: number;
}

/** Read-side SQL over vehicles_status (latest state) and detection_events. */
@Injectable()
export class VehiclesRepository {
  constructor(private readonly db: DataSource) {}

  /** Ordered by vehicle_id over the primary key. */
  list(filter: { status?: string; afterId?: string; limit: number }): Promise<VehicleDto[]> {
    return this.db.query(
      `SELECT ${VEHICLE_COLUMNS}
         FROM vehicles_status v
        WHERE ($1::text IS NULL OR v.status = $1)
          AND ($2::text IS NULL OR v.vehicle_id > $2)
        ORDER BY v.vehicle_id
        LIMIT $3`,
      [filter.status ?? null, filter.afterId ?? null, filter.limit],
    );
  }

  async get(vehicleId: string): Promise<VehicleDto | undefined> {
    const rows: VehicleDto[] = await this.db.query(`SELECT ${VEHICLE_COLUMNS} FROM vehicles_status v WHERE v.vehicle_id = $1`, [vehicleId]);
    return rows[0];
  }

  /** A vehicle is known once it has a status or a detection. */
  async exists(vehicleId: string): Promise<boolean> {
    const rows: { known: boolean }[] = await this.db.query(
      `SELECT EXISTS (SELECT 1 FROM vehicles_status WHERE vehicle_id = $1)
           OR EXISTS (SELECT 1 FROM detection_events WHERE vehicle_id = $1) AS known`,
      [vehicleId],
    );
    return rows[0].known;
  }

  /**
   * Detections in (detection_time, vehicle_id, object_type) order. With a vehicle the (vehicle_id,
   * detection_time) index serves the range; without one the detection_time index does.
   */
  async detections(f: DetectionsFilter): Promise<DetectionDto[]> {
    const rows: (DetectionDto & { object_value: number })[] = await this.db.query(
      `SELECT d.vehicle_id, ${isoUs('d.detection_time')} AS detection_time, d.object_type, d.object_value, d.file_id::text AS file_id
         FROM detection_events d
        WHERE ($1::text IS NULL OR d.vehicle_id = $1)
          AND ($2::text IS NULL OR d.object_type = $2)
          AND ($3::timestamptz IS NULL OR d.detection_time >= $3::timestamptz)
          AND ($4::timestamptz IS NULL OR d.detection_time <  $4::timestamptz)
          AND ($5::timestamptz IS NULL OR (d.detection_time, d.vehicle_id, d.object_type) > ($5::timestamptz, $6::text, $7::text))
        ORDER BY d.detection_time, d.vehicle_id, d.object_type
        LIMIT $8`,
      [f.vehicleId ?? null, f.objectType ?? null, f.from ?? null, f.to ?? null, f.after?.time ?? null, f.after?.vehicleId ?? null, f.after?.objectType ?? null, f.limit],
    );
    return rows;
  }
}
