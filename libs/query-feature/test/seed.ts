import { createHash } from 'node:crypto';
import { Client } from 'pg';

/** Ledger rows, oldest first. F3 and F4 share created_at so the (created_at, id) tie-break is exercised. */
export const FILES = {
  f1: { id: '10000000-0000-4000-8000-000000000001', status: 'processed', kind: 'sensor_wide_csv', created: '2026-01-01T10:00:00.000001Z' },
  f2: { id: '20000000-0000-4000-8000-000000000002', status: 'quarantined', kind: 'sensor_wide_csv', created: '2026-01-01T10:00:00.000002Z' },
  f3: { id: '30000000-0000-4000-8000-000000000003', status: 'processed', kind: 'vehicle_status', created: '2026-01-02T08:30:00.250000Z' },
  f4: { id: '40000000-0000-4000-8000-000000000004', status: 'failed', kind: 'measurement', created: '2026-01-02T08:30:00.250000Z' },
  f5: { id: '50000000-0000-4000-8000-000000000005', status: 'queued', kind: null, created: '2026-01-03T00:00:00.000000Z' },
} as const;

export const TEMP = 'b8:27:eb:bf:9d:51/temp';
export const HUMIDITY = 'b8:27:eb:bf:9d:51/humidity';
export const UUID_SENSOR = { name: 'sensor_00007', uuid: '6a1f2e3d-4c5b-4a69-8778-9695a4b3c2d1' };
export const F2_ERRORS = 105;

/**
 * Sensors, readings with microsecond timestamps (two of them 1 µs apart, spanning midnight), aggregates
 * recomputed from those readings, and ledger rows with rejected rows. Everything by SQL, as a loader would.
 */
export async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (const f of Object.values(FILES)) {
      // A processed file wrote its 95 records' rows to its kind's table; the others wrote none.
      const written = f.status !== 'processed' ? {} : f.kind === 'vehicle_status' ? { vehicles_status: 95 } : { raw_sensor_data: 95 };
      await c.query(
        `INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, kind, status, rows_total, rows_loaded,
                                   rows_rejected, rows_written, rows_written_by_table, error, attempts, created_at, updated_at)
         VALUES ($1, 'dropzone', $2, $3, $9, 1234, $4, $5, 200, 95, $6, $10, $11, $7, 1, $8, $8)`,
        [
          f.id,
          `in/${f.id}.csv`,
          `processed/${f.id}.csv`,
          f.kind,
          f.status,
          f.id === FILES.f2.id ? F2_ERRORS : 0,
          f.id === FILES.f2.id ? { rule: 'too_many_invalid', message: '105 of 200 rows are invalid (52.5% > 5%)' } : null,
          f.created,
          createHash('sha256').update(f.id).digest('hex'),
          Object.values(written).reduce((a, b) => a + b, 0),
          written,
        ],
      );
    }
    await c.query(
      `INSERT INTO ingest_errors (file_id, line, "column", rule, message, raw)
       SELECT $1, n, 'temp', 'out_of_range', 'temp ' || (60 + n) || ' is outside -50..50', '1594512094,b8:27:eb:bf:9d:51,' || (60 + n)
         FROM generate_series($2::int, 1, -1) n`,
      [FILES.f2.id, F2_ERRORS],
    );

    await c.query(
      `INSERT INTO sensors (id, name, uuid, device, metric) VALUES
         (1, $1, NULL, 'b8:27:eb:bf:9d:51', 'temp'), (2, $2, NULL, 'b8:27:eb:bf:9d:51', 'humidity'), (3, $3, $4, NULL, NULL)`,
      [TEMP, HUMIDITY, UUID_SENSOR.name, UUID_SENSOR.uuid],
    );
    await c.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT 1, '2020-07-12T23:50:00.000001Z'::timestamptz + i * interval '37.000123 seconds', 20 + (i % 7) * 0.5, $1::uuid
         FROM generate_series(0, 49) i
       UNION ALL SELECT 1, '2020-07-13T00:00:00.000000Z', 21.25, $1::uuid
       UNION ALL SELECT 1, '2020-07-13T00:00:00.000001Z', 21.75, $1::uuid
       UNION ALL SELECT 2, '2020-07-12T00:00:00Z'::timestamptz + i * interval '1 hour', 50 + i, $1::uuid FROM generate_series(0, 4) i`,
      [FILES.f1.id],
    );
    for (const bucket of ['hour', 'day']) {
      await c.query(
        `INSERT INTO aggregated_metrics (sensor_id, bucket, bucket_start, count, min, max, mean, m2)
         SELECT sensor_id, $1::varchar, date_trunc($1::text, ts, 'UTC'), count(*), min(value), max(value), avg(value), var_pop(value) * count(*)
           FROM raw_sensor_data GROUP BY 1, 2, 3`,
        [bucket],
      );
    }
  } finally {
    await c.end();
  }
}

/** Every reading of a sensor as the API must return it, straight from the table. */
export async function allReadings(url: string, name: string): Promise<{ ts: string; value: number; file_id: string }[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, r.value, r.file_id::text AS file_id
         FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = $1 ORDER BY r.ts`,
      [name],
    );
    return rows;
  } finally {
    await c.end();
  }
}
