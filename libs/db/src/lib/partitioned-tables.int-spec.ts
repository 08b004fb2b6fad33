import 'reflect-metadata';
import { Client } from 'pg';
import { ensureDatabase, revertLastMigration, runMigrations } from './database';
import { MIGRATIONS } from './data-source';
import { addIntervals, intervalStart, partitionName } from './partition-bounds';

// Not @sluice/testing: it builds on this lib.
const TEST_PG_URL = process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const FILE = '00000000-0000-4000-8000-0000000000aa';
const TABLES = ['raw_sensor_data', 'detection_events', 'log_lines'] as const;
/** This migration and the ones after it. */
const FROM_HERE = MIGRATIONS.slice(MIGRATIONS.findIndex((m) => m.name === 'PartitionedTables1765100000000')).map((m) => m.name);

describe('the partitioned-tables migration', () => {
  const name = `sluice_test_partition_migration_${process.pid}`;
  const url = Object.assign(new URL(TEST_PG_URL), { pathname: `/${name}` }).toString();
  let c: Client;

  beforeAll(async () => {
    await ensureDatabase(url);
    await runMigrations(url);
    for (const _ of FROM_HERE) await revertLastMigration(url);
    c = new Client({ connectionString: url });
    await c.connect();
    await c.query(`SET TimeZone = 'UTC'`);
  });

  afterAll(async () => {
    await c?.end();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });

  async function sums(): Promise<Record<string, { n: string; sum: string; md5: string }>> {
    const out: Record<string, { n: string; sum: string; md5: string }> = {};
    for (const t of TABLES) {
      const { rows } = await c.query(`SELECT count(*)::text AS n, COALESCE(sum(hashtext(t::text)), 0)::text AS sum, md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) AS md5 FROM ${t} t`);
      out[t] = rows[0];
    }
    return out;
  }

  const relkind = async (t: string) => (await c.query(`SELECT relkind FROM pg_class WHERE oid = to_regclass($1)`, [t])).rows[0]?.relkind as string | undefined;
  const filenode = async (rel: string) => (await c.query(`SELECT pg_relation_filenode(to_regclass($1))::text AS f`, [rel])).rows[0]?.f as string | null;

  it('turns the plain tables into partitioned ones without rewriting them, and back', async () => {
    expect(await relkind('raw_sensor_data')).toBe('r');
    const now = new Date();
    // 6000 readings over the last three months and a few weeks ahead; detections; log lines with and without a time.
    await c.query(
      `INSERT INTO raw_sensor_data (sensor_id, ts, value, file_id)
       SELECT i % 20, now() - interval '90 days' + (i * interval '27 minutes'), i * 0.5, $1 FROM generate_series(1, 6000) i`,
      [FILE],
    );
    await c.query(
      `INSERT INTO detection_events (vehicle_id, detection_time, object_type, object_value, file_id, file_created_at)
       SELECT 'v' || (i % 7), now() - (i * interval '5 hours'), 'car', i, $1, now() FROM generate_series(1, 300) i`,
      [FILE],
    );
    await c.query(
      `INSERT INTO log_lines (file_id, line, ts, tag, message)
       SELECT $1, i, CASE WHEN i % 5 = 0 THEN NULL ELSE now() - (i * interval '1 hour') END, CASE WHEN i % 3 = 0 THEN 'warn' END, 'line ' || i
         FROM generate_series(1, 500) i`,
      [FILE],
    );
    const before = await sums();
    const heap = await filenode('raw_sensor_data');
    const key = await filenode('raw_sensor_data_pkey');
    const eventsTimeIdx = await filenode('detection_events_time_idx');
    const maxId = (await c.query(`SELECT max(id)::text AS m FROM log_lines`)).rows[0].m as string;

    expect(await runMigrations(url)).toEqual(FROM_HERE);

    expect(await sums()).toEqual(before);
    const from = intervalStart(new Date(now.getTime() - 90 * 86_400_000), 'month');
    const first = partitionName('raw_sensor_data', from);
    expect(await relkind('raw_sensor_data')).toBe('p');
    // The old table is the first partition, its heap and key the same files (not rewritten, not rebuilt).
    expect(await filenode(first)).toBe(heap);
    expect(await filenode(`${first}_pkey`)).toBe(key);
    expect(await filenode(`${partitionName('detection_events', intervalStart(new Date(now.getTime() - 1500 * 3_600_000), 'month'))}_time_idx`)).toBe(eventsTimeIdx);
    const bound = (await c.query(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = $1 AND relispartition`, [first])).rows[0]?.b as string;
    const newest = new Date(now.getTime() - 90 * 86_400_000 + 6000 * 27 * 60_000);
    const pg = (d: Date) => d.toISOString().replace('T', ' ').replace('.000Z', '+00');
    expect(bound).toBe(`FOR VALUES FROM ('${pg(from)}') TO ('${pg(addIntervals(intervalStart(newest, 'month'), 'month', 1))}')`);
    // No constraint was left unvalidated, and the default partition and the months ahead exist.
    expect((await c.query(`SELECT conname FROM pg_constraint WHERE NOT convalidated`)).rows).toEqual([]);
    for (const t of TABLES) {
      expect(await relkind(`${t}_default`)).toBe('r');
      expect(await relkind(partitionName(t, addIntervals(intervalStart(now, 'month'), 'month', 2)))).toBe('r');
      // Every index of the parent has its partition index in every partition (attached, none missing).
      const { rows } = await c.query(
        `SELECT count(*)::int AS missing FROM pg_inherits p JOIN pg_class part ON part.oid = p.inhrelid, pg_index pi
          WHERE p.inhparent = $1::regclass AND pi.indrelid = $1::regclass
            AND NOT EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index ci ON ci.indexrelid = ii.inhrelid WHERE ii.inhparent = pi.indexrelid AND ci.indrelid = part.oid)`,
        [t],
      );
      expect(rows[0].missing).toBe(0);
    }
    // Lines without a time are in the default partition; the ids go on after the last one.
    expect((await c.query(`SELECT count(*)::int AS n, bool_and(ts IS NULL) AS all_null FROM log_lines_default`)).rows[0]).toEqual({ n: 100, all_null: true });
    const next = await c.query(`INSERT INTO log_lines (file_id, line, ts, message) VALUES ($1, 501, now(), 'x') RETURNING id::text`, [FILE]);
    expect(BigInt(next.rows[0].id)).toBe(BigInt(maxId) + 1n);
    await c.query(`DELETE FROM log_lines WHERE line = 501`);

    // One sensor's hour touches one partition.
    const plan = await c.query(`EXPLAIN (FORMAT JSON) SELECT ts, value FROM raw_sensor_data WHERE sensor_id = $1 AND ts >= $2 AND ts < $2::timestamptz + interval '1 hour'`, [3, new Date(now.getTime() - 10 * 86_400_000)]);
    expect(relationsIn(plan.rows[0]['QUERY PLAN'])).toHaveLength(1);
    // The query-api's readings page: its optional bounds, as parameters of an unnamed statement (planned with their values).
    const readings = `EXPLAIN (FORMAT JSON) SELECT r.ts, r.value, r.file_id FROM raw_sensor_data r
       WHERE r.sensor_id = $1 AND ($2::timestamptz IS NULL OR r.ts >= $2::timestamptz) AND ($3::timestamptz IS NULL OR r.ts < $3::timestamptz)
         AND ($4::timestamptz IS NULL OR r.ts > $4::timestamptz) ORDER BY r.ts OFFSET $5 LIMIT $6 + 1`;
    for (const at of [new Date(now.getTime() - 10 * 86_400_000), addIntervals(intervalStart(now, 'month'), 'month', 2)]) {
      const hour = new Date(at.getTime() + 3_600_000);
      const p = await c.query(readings, [3, at, hour, null, 0, 100]);
      const firstEnds = addIntervals(intervalStart(newest, 'month'), 'month', 1);
      expect(relationsIn(p.rows[0]['QUERY PLAN'])).toEqual([at < firstEnds ? first : partitionName('raw_sensor_data', intervalStart(at, 'month'))]);
    }

    for (const _ of FROM_HERE) await revertLastMigration(url);
    expect(await relkind('raw_sensor_data')).toBe('r');
    expect(await relkind('raw_sensor_data_default')).toBeUndefined();
    expect(await sums()).toEqual(before);
    expect(await runMigrations(url)).toEqual(FROM_HERE);
    expect(await sums()).toEqual(before);
  });
});

/** The relations a JSON plan reads. */
function relationsIn(plan: unknown): string[] {
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (typeof o['Relation Name'] === 'string') out.push(o['Relation Name']);
      Object.values(o).forEach(walk);
    }
  };
  walk(plan);
  return out;
}
