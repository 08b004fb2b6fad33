/**
 * Merges a file's partial aggregates into `aggregated_metrics` (Chan et al. for mean and m2). Rows come
 * sorted by key from HourAggregates, so concurrent files lock buckets in the same order.
 */
export const MERGE_AGGREGATES_SQL = `
  INSERT INTO aggregated_metrics AS a (sensor_id, bucket, bucket_start, count, min, max, mean, m2)
  SELECT * FROM unnest($1::int[], $2::varchar[], $3::timestamptz[], $4::bigint[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])
  ON CONFLICT (sensor_id, bucket, bucket_start) DO UPDATE SET
    count = a.count + excluded.count,
    mean = a.mean + (excluded.mean - a.mean) * excluded.count::float8 / (a.count + excluded.count)::float8,
    m2 = a.m2 + excluded.m2
         + (excluded.mean - a.mean) * (excluded.mean - a.mean) * a.count::float8 * excluded.count::float8 / (a.count + excluded.count)::float8,
    min = least(a.min, excluded.min),
    max = greatest(a.max, excluded.max)`;

/** Buckets are UTC hours and days, whatever the session time zone. */
const bucketAgg = (bucket: 'hour' | 'day', width: string, touched: string) => `
  INSERT INTO aggregated_metrics AS a (sensor_id, bucket, bucket_start, count, min, max, mean, m2)
  SELECT r.sensor_id, '${bucket}', t.start, count(*), min(r.value), max(r.value), avg(r.value), coalesce(var_pop(r.value), 0) * count(*)
  FROM ${touched} t
  JOIN raw_sensor_data r ON r.sensor_id = t.sensor_id AND r.ts >= t.start AND r.ts < t.start + interval '${width}'
  GROUP BY r.sensor_id, t.start
  ORDER BY r.sensor_id, t.start
  ON CONFLICT (sensor_id, bucket, bucket_start) DO UPDATE SET
    count = excluded.count, min = excluded.min, max = excluded.max, mean = excluded.mean, m2 = excluded.m2`;

/** Recomputes the hour buckets listed in temp table `touched (sensor_id, start)` from raw_sensor_data. */
export const recomputeHoursSql = (touched: string) => bucketAgg('hour', '1 hour', touched);
/** Recomputes the day buckets listed in temp table `touched (sensor_id, start)`; 24 hours, not '1 day', which follows DST. */
export const recomputeDaysSql = (touched: string) => bucketAgg('day', '24 hours', touched);

/**
 * Every aggregate as a full recomputation from raw_sensor_data would give it, in the columns of
 * aggregated_metrics. Tests compare the table with this.
 */
export const AGGREGATES_FROM_RAW_SQL = `
  SELECT sensor_id, bucket, bucket_start, count, min, max, mean, m2, sqrt(greatest(m2, 0) / count) AS std_dev FROM (
    SELECT sensor_id, 'hour' AS bucket, date_trunc('hour', ts, 'UTC') AS bucket_start, count(*) AS count, min(value) AS min,
           max(value) AS max, avg(value) AS mean, coalesce(var_pop(value), 0) * count(*) AS m2
    FROM raw_sensor_data GROUP BY sensor_id, date_trunc('hour', ts, 'UTC')
    UNION ALL
    SELECT sensor_id, 'day', date_trunc('day', ts, 'UTC'), count(*), min(value), max(value), avg(value), coalesce(var_pop(value), 0) * count(*)
    FROM raw_sensor_data GROUP BY sensor_id, date_trunc('day', ts, 'UTC')
  ) x`;

/**
 * Moves a file's staged readings into raw_sensor_data: the file's last line wins for a key, a stored key
 * changes only when its value differs, and every touched (sensor, hour) is noted in `touched` so the
 * buckets can be recomputed. $1 is the file id; returns one row `n` = readings written.
 */
export const upsertStagedReadingsSql = (stage: string, touched: string) => `
  WITH up AS (
    INSERT INTO raw_sensor_data AS r (sensor_id, ts, value, file_id)
    SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value, $1::uuid FROM ${stage} ORDER BY sensor_id, ts, line DESC
    ON CONFLICT (sensor_id, ts) DO UPDATE SET value = excluded.value, file_id = excluded.file_id
    WHERE r.value IS DISTINCT FROM excluded.value
    RETURNING r.sensor_id, r.ts),
  t AS (INSERT INTO ${touched} (sensor_id, start) SELECT DISTINCT sensor_id, date_trunc('hour', ts, 'UTC') FROM up)
  SELECT count(*)::int AS n FROM up`;
