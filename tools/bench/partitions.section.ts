import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createTestDatabase } from '@sluice/testing';

export interface PartitionsOptions {
  out: (line?: string) => void;
  /** Readings loaded per repetition (`--partition-rows`, 1,000,000). */
  rows: number;
  /** Repetitions of each table (`--partition-reps`, 3). */
  reps: number;
}

const SENSORS = 100;
const FILE_ROWS = 10_000;
const YEAR_START = Date.UTC(2025, 0, 1);
const YEAR_MS = 365 * 86_400_000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const n = (x: number) => Math.round(x).toLocaleString('en');

/**
 * The COPY text of `rows` readings: SENSORS sensors, each reporting at a steady step over 2025 (so the
 * readings fall in every monthly partition), one file id per FILE_ROWS readings, in file order as a loader
 * writes them. Made once, before any timing.
 */
function readingsText(rows: number): Buffer[] {
  const perSensor = Math.ceil(rows / SENSORS);
  const step = Math.floor(YEAR_MS / perSensor);
  const chunks: Buffer[] = [];
  let lines: string[] = [];
  let fileId = randomUUID();
  for (let i = 0; i < rows; i++) {
    if (i % FILE_ROWS === 0) fileId = randomUUID();
    const sensor = (i % SENSORS) + 1;
    const ts = new Date(YEAR_START + Math.floor(i / SENSORS) * step + (i % 997)).toISOString();
    lines.push(`${sensor}\t${ts}\t${(20 + (i % 1000) / 100).toFixed(2)}\t${fileId}`);
    if (lines.length === 5000) {
      chunks.push(Buffer.from(lines.join('\n') + '\n'));
      lines = [];
    }
  }
  if (lines.length) chunks.push(Buffer.from(lines.join('\n') + '\n'));
  return chunks;
}

async function copyInto(c: Client, table: string, chunks: Buffer[]): Promise<number> {
  const t0 = performance.now();
  await pipeline(Readable.from(chunks), c.query(copyFrom(`COPY ${table} (sensor_id, ts, value, file_id) FROM STDIN`)));
  return performance.now() - t0;
}

/** Bytes on disk of a table (its partitions, indexes and TOAST), and of its indexes alone. */
async function sizeOf(c: Client, table: string): Promise<{ total: number; indexes: number }> {
  const { rows } = await c.query<{ total: string; indexes: string }>(
    `WITH leaf AS (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf UNION ALL SELECT $1::regclass WHERE NOT EXISTS (SELECT FROM pg_partition_tree($1::regclass)))
     SELECT sum(pg_total_relation_size(relid))::text AS total, sum(pg_indexes_size(relid))::text AS indexes FROM leaf`,
    [table],
  );
  return { total: Number(rows[0].total), indexes: Number(rows[0].indexes) };
}

/**
 * COPY of the same readings into a range-partitioned copy of raw_sensor_data (monthly partitions and a
 * default, the same key) and into a plain one, interleaved (the order alternates), `reps` times each, as
 * medians; then the bytes per reading on disk, and per row of hourly and daily aggregates, for the sizing
 * table of docs/deploy.md. Both tables are built here from raw_sensor_data's own key, so it runs before or
 * after raw_sensor_data itself is partitioned.
 */
export async function partitionsSection({ out, rows, reps }: PartitionsOptions): Promise<void> {
  out(`\n## Partitions: COPY of ${n(rows)} readings into a monthly range-partitioned raw_sensor_data vs an unpartitioned one (${reps} runs each, interleaved; medians)`);
  const db = await createTestDatabase('bench_partitions');
  const c = new Client({ connectionString: db.url });
  await c.connect();
  try {
    const [{ key }] = (
      await c.query<{ key: string }>(`SELECT pg_get_constraintdef(oid) AS key FROM pg_constraint WHERE conrelid = 'raw_sensor_data'::regclass AND contype = 'p'`)
    ).rows;
    const columns = `sensor_id int NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL, file_id uuid NOT NULL, ${key}`;
    await c.query(`CREATE TABLE bench_plain (${columns})`);
    await c.query(`CREATE TABLE bench_part (${columns}) PARTITION BY RANGE (ts)`);
    for (let m = 0; m < 12; m++) {
      const from = new Date(Date.UTC(2025, m, 1)).toISOString();
      const to = new Date(Date.UTC(2025, m + 1, 1)).toISOString();
      await c.query(`CREATE TABLE bench_part_2025_${String(m + 1).padStart(2, '0')} PARTITION OF bench_part FOR VALUES FROM ('${from}') TO ('${to}')`);
    }
    await c.query(`CREATE TABLE bench_part_default PARTITION OF bench_part DEFAULT`);
    out(`key: ${key}; 12 monthly partitions + default`);

    const chunks = readingsText(rows);
    const bytes = chunks.reduce((s, b) => s + b.length, 0);
    const ms: Record<'bench_plain' | 'bench_part', number[]> = { bench_plain: [], bench_part: [] };
    for (let r = 0; r < reps; r++) {
      const order = r % 2 === 0 ? (['bench_plain', 'bench_part'] as const) : (['bench_part', 'bench_plain'] as const);
      for (const t of order) {
        await c.query(`TRUNCATE ${t}`);
        await c.query('CHECKPOINT');
        ms[t].push(await copyInto(c, t, chunks));
      }
    }
    const rate = (t: 'bench_plain' | 'bench_part') => {
      const s = median(ms[t]) / 1000;
      return { rowsPerS: rows / s, mbPerS: bytes / 1024 ** 2 / s, runs: ms[t].map((x) => (x / 1000).toFixed(2)).join(', ') };
    };
    const plain = rate('bench_plain');
    const part = rate('bench_part');
    out(`unpartitioned  ${n(plain.rowsPerS)} rows/s  ${plain.mbPerS.toFixed(1)} MB/s  (runs ${plain.runs} s)`);
    out(`partitioned    ${n(part.rowsPerS)} rows/s  ${part.mbPerS.toFixed(1)} MB/s  (runs ${part.runs} s)`);
    out(`ratio partitioned/unpartitioned ${(part.rowsPerS / plain.rowsPerS).toFixed(2)}×  (COPY text ${(bytes / 1024 ** 2).toFixed(0)} MB)`);

    // Sizes after the last load (both tables hold the N readings), once vacuumed as autovacuum leaves them.
    await c.query('VACUUM ANALYZE bench_plain');
    await c.query('VACUUM ANALYZE bench_part');
    for (const t of ['bench_plain', 'bench_part']) {
      const s = await sizeOf(c, t);
      out(`${t === 'bench_plain' ? 'unpartitioned' : 'partitioned  '}  ${(s.total / rows).toFixed(1)} bytes/reading on disk (heap ${((s.total - s.indexes) / rows).toFixed(1)} + key index ${(s.indexes / rows).toFixed(1)})`);
    }

    // The aggregates of those readings, as the loader keeps them: one row per sensor and hour, and per sensor and day.
    await c.query(`CREATE TABLE bench_aggregates (LIKE aggregated_metrics INCLUDING ALL)`);
    await c.query(
      `INSERT INTO bench_aggregates (sensor_id, bucket, bucket_start, count, min, max, mean, m2)
       SELECT sensor_id, b.bucket, date_trunc(b.bucket, ts), count(*), min(value), max(value), avg(value), coalesce(var_pop(value) * count(*), 0)
         FROM bench_plain CROSS JOIN (VALUES ('hour'), ('day')) b(bucket)
        GROUP BY 1, 2, 3`,
    );
    await c.query('VACUUM ANALYZE bench_aggregates');
    const [{ n: aggRows }] = (await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM bench_aggregates`)).rows;
    const agg = await sizeOf(c, 'bench_aggregates');
    out(`aggregates     ${(agg.total / Number(aggRows)).toFixed(1)} bytes/row on disk (${n(Number(aggRows))} hourly and daily rows; 24 + 1 rows per sensor and day, whatever the reading rate)`);
  } finally {
    await c.end();
    await db.drop();
  }
}
