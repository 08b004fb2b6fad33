import type { Stack } from './stack';

/**
 * Differences between aggregated_metrics and a recomputation from raw_sensor_data (hour and day buckets):
 * buckets missing on either side, count/min/max not equal, mean/std_dev off by more than 1e-9 relative.
 */
export async function aggregateMismatches(stack: Pick<Stack, 'query'>): Promise<unknown[]> {
  return stack.query(`
    WITH recomputed AS (
      SELECT sensor_id, b.bucket, date_trunc(b.bucket, ts, 'UTC') AS bucket_start,
             count(*) AS count, min(value) AS min, max(value) AS max, avg(value) AS mean, stddev_pop(value) AS std_dev
      FROM raw_sensor_data CROSS JOIN (VALUES ('hour'), ('day')) AS b(bucket)
      GROUP BY sensor_id, b.bucket, 3
    )
    SELECT coalesce(r.sensor_id, a.sensor_id) AS sensor_id, coalesce(r.bucket, a.bucket) AS bucket,
           coalesce(r.bucket_start, a.bucket_start) AS bucket_start, r.count AS r_count, a.count AS a_count,
           r.mean AS r_mean, a.mean AS a_mean, r.std_dev AS r_std, a.std_dev AS a_std
    FROM recomputed r FULL JOIN aggregated_metrics a
      ON a.sensor_id = r.sensor_id AND a.bucket = r.bucket AND a.bucket_start = r.bucket_start
    WHERE r.sensor_id IS NULL OR a.sensor_id IS NULL OR r.count <> a.count OR r.min <> a.min OR r.max <> a.max
       OR abs(r.mean - a.mean) > 1e-9 * greatest(1, abs(r.mean))
       OR abs(r.std_dev - a.std_dev) > 1e-9 * greatest(1, abs(r.std_dev))
    LIMIT 20`);
}
