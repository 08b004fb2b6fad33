import type { MigrationInterface, QueryRunner } from 'typeorm';
import { LOG_MESSAGE_TSVECTOR } from '../entities/log-line.entity';
import { addIntervals, intervalStart, partitionName, tsLiteral, type PartitionedTable } from '../partition-bounds';

/** What the parent of each table gets: its key and indexes, by the names the plain table's had. */
interface TableShape {
  table: PartitionedTable;
  column: string;
  /** Indexes of the plain table kept on it as the first partition (renamed `<partition>_<suffix>`); they are attached, not rebuilt. */
  kept: string[];
  /** Constraints of the plain table whose indexes are kept (renamed likewise). */
  keptConstraints: string[];
  /** Statements making the parent's key and indexes (run while it has no partition: instant). */
  parent: string[];
}

const SHAPES: TableShape[] = [
  {
    table: 'raw_sensor_data',
    column: 'ts',
    kept: [],
    keptConstraints: ['raw_sensor_data_pkey'],
    parent: [`ALTER TABLE raw_sensor_data ADD CONSTRAINT raw_sensor_data_pkey PRIMARY KEY (sensor_id, ts) INCLUDE (value, file_id)`],
  },
  {
    table: 'detection_events',
    column: 'detection_time',
    kept: ['detection_events_time_idx', 'detection_events_vehicle_time_idx'],
    keptConstraints: ['detection_events_pkey'],
    parent: [
      `ALTER TABLE detection_events ADD CONSTRAINT detection_events_pkey PRIMARY KEY (vehicle_id, detection_time, object_type)`,
      `CREATE INDEX detection_events_time_idx ON detection_events (detection_time)`,
      `CREATE INDEX detection_events_vehicle_time_idx ON detection_events (vehicle_id, detection_time)`,
    ],
  },
  {
    table: 'log_lines',
    column: 'ts',
    kept: ['log_lines_tag_idx', 'log_lines_ts_idx', 'log_lines_message_fts_idx', 'log_lines_file_line_ts_uq', 'log_lines_id_idx'],
    keptConstraints: [],
    parent: [
      `CREATE UNIQUE INDEX log_lines_file_line_ts_uq ON log_lines (file_id, line, ts) NULLS NOT DISTINCT`,
      `CREATE INDEX log_lines_id_idx ON log_lines (id)`,
      `CREATE INDEX log_lines_tag_idx ON log_lines (tag, id) WHERE tag IS NOT NULL`,
      `CREATE INDEX log_lines_ts_idx ON log_lines (ts) WHERE ts IS NOT NULL`,
      `CREATE INDEX log_lines_message_fts_idx ON log_lines USING gin (${LOG_MESSAGE_TSVECTOR})`,
    ],
  },
];

const BOUND = (table: string) => `${table}_partition_bound`;
/** Each step that takes a strong lock waits this long for it, then gives up and tries again. */
const LOCK_TIMEOUT = '5s';
const LOCK_ATTEMPTS = 12;

/**
 * raw_sensor_data, detection_events and log_lines become tables range-partitioned on their time column (monthly
 * here: a migration cannot read PARTITION_INTERVAL; the maintenance job makes later ones by it) without
 * rewriting their rows: each plain table becomes the first partition. Its range is added as a CHECK … NOT VALID
 * (a moment's lock), VALIDATEd (a scan that lets writes go on), and ATTACH then trusts it instead of scanning
 * under lock; the parent's key and indexes are those of the plain table, so its indexes are attached, not
 * rebuilt. Then a DEFAULT partition (anything no range holds) and monthly partitions through two months ahead.
 *
 * log_lines: a partitioned table's unique indexes must hold the partition column, and `ts` is null for a line
 * without a timestamp. The least surprising design keeps `ts` as it is (no made-up times) and partitions on it:
 * lines without a time live in the DEFAULT partition, and a range partition of log lines is dropped whole by
 * LOG_RETENTION like readings. So the key of a line becomes (file_id, line, ts) NULLS NOT DISTINCT: a line's
 * time comes from its own text, so a file's line still has one row (the loader replaces a changed line, never
 * adds a second). `id` keeps its identity (load order, the keyset of GET /logs) with a plain index, no longer a
 * primary key. Two indexes are built (concurrently) on the existing table and the lines without a time are moved
 * to the default partition: the only rows this migration moves.
 *
 * Runs outside a transaction (each step its own), so it resumes after a failure: a table already partitioned is
 * left alone. While a table is between its CHECK and its ATTACH, a row outside the CHECK's range (older than
 * any row, more than a month ahead, or a log line without a time) is refused and its file retried later.
 */
export class PartitionedTables1765100000000 implements MigrationInterface {
  name = 'PartitionedTables1765100000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    for (const shape of SHAPES) await partition(q, shape, new Date());
  }

  /** Back to plain tables: every row copied into one (this rewrites the data; on a large database it takes its time). */
  async down(q: QueryRunner): Promise<void> {
    for (const { table } of SHAPES) {
      if (!(await isPartitioned(q, table))) continue;
      const plain = `${table}_plain`;
      await q.query(`CREATE TABLE ${plain} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)`);
      await q.query(`INSERT INTO ${plain} SELECT * FROM ${table}`);
      await q.query(`DROP TABLE ${table}`);
      await q.query(`ALTER TABLE ${plain} RENAME TO ${table}`);
    }
    await q.query(`ALTER TABLE raw_sensor_data ADD CONSTRAINT raw_sensor_data_pkey PRIMARY KEY (sensor_id, ts) INCLUDE (value, file_id)`);
    await q.query(`ALTER TABLE detection_events ADD CONSTRAINT detection_events_pkey PRIMARY KEY (vehicle_id, detection_time, object_type)`);
    await q.query(`CREATE INDEX detection_events_time_idx ON detection_events (detection_time)`);
    await q.query(`CREATE INDEX detection_events_vehicle_time_idx ON detection_events (vehicle_id, detection_time)`);
    await q.query(`ALTER TABLE log_lines ADD PRIMARY KEY (id), ADD CONSTRAINT log_lines_file_line_uq UNIQUE (file_id, line)`);
    await q.query(`SELECT setval(pg_get_serial_sequence('log_lines', 'id'), GREATEST((SELECT max(id) FROM log_lines), 1), (SELECT max(id) IS NOT NULL FROM log_lines))`);
    await q.query(`CREATE INDEX log_lines_tag_idx ON log_lines (tag, id) WHERE tag IS NOT NULL`);
    await q.query(`CREATE INDEX log_lines_ts_idx ON log_lines (ts) WHERE ts IS NOT NULL`);
    await q.query(`CREATE INDEX log_lines_message_fts_idx ON log_lines USING gin (${LOG_MESSAGE_TSVECTOR})`);
  }
}

async function isPartitioned(q: QueryRunner, table: string): Promise<boolean> {
  const rows = (await q.query(`SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass($1)`, [table])) as { relkind: string }[];
  return rows[0]?.relkind === 'p';
}

/** One step in its own transaction, waiting at most LOCK_TIMEOUT for a lock (and trying again) when it locks. */
async function step(q: QueryRunner, statements: (string | (() => Promise<void>))[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await q.startTransaction();
    try {
      await q.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      for (const s of statements) {
        if (typeof s === 'string') await q.query(s);
        else await s();
      }
      await q.commitTransaction();
      return;
    } catch (e) {
      await q.rollbackTransaction();
      if ((e as { code?: string }).code !== '55P03' || attempt >= LOCK_ATTEMPTS) throw e;
    }
  }
}

async function partition(q: QueryRunner, shape: TableShape, now: Date): Promise<void> {
  const { table, column } = shape;
  if (await isPartitioned(q, table)) return;
  await q.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${BOUND(table)}`);

  // log_lines: lines without a time go to what becomes the default partition (a plain table until then).
  const defaultName = `${table}_default`;
  if (table === 'log_lines') {
    await step(q, [
      `CREATE TABLE IF NOT EXISTS ${defaultName} (LIKE ${table} INCLUDING DEFAULTS, CONSTRAINT ${defaultName}_no_time CHECK (${column} IS NULL))`,
      `LOCK TABLE ${table} IN EXCLUSIVE MODE`,
      `INSERT INTO ${defaultName} SELECT * FROM ${table} WHERE ${column} IS NULL`,
      `DELETE FROM ${table} WHERE ${column} IS NULL`,
    ]);
  }

  // The range of the first partition: whole months from its oldest row through the month of its newest row or now.
  const [span] = (await q.query(`SELECT min(${column}) AS lo, max(${column}) AS hi FROM ${table}`)) as { lo: Date | null; hi: Date | null }[];
  const from = intervalStart(span?.lo && span.lo < now ? span.lo : now, 'month');
  const to = addIntervals(intervalStart(span?.hi && span.hi > now ? span.hi : now, 'month'), 'month', 1);
  const first = partitionName(table, from);

  await step(q, [`ALTER TABLE ${table} ADD CONSTRAINT ${BOUND(table)} CHECK (${column} IS NOT NULL AND ${column} >= ${tsLiteral(from)} AND ${column} < ${tsLiteral(to)}) NOT VALID`]);
  await q.query(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${BOUND(table)}`);

  if (table === 'log_lines') {
    // Built concurrently (writes go on); a half-built one from a failed run is dropped first.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${table}_file_line_ts_uq`);
    await q.query(`CREATE UNIQUE INDEX CONCURRENTLY ${table}_file_line_ts_uq ON ${table} (file_id, line, ts) NULLS NOT DISTINCT`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${table}_id_idx`);
    await q.query(`CREATE INDEX CONCURRENTLY ${table}_id_idx ON ${table} (id)`);
  }

  const suffix = (name: string) => name.slice(table.length + 1);
  const ahead = addIntervals(intervalStart(now, 'month'), 'month', 3);
  const later: string[] = [];
  for (let f = to; f < ahead; f = addIntervals(f, 'month', 1)) {
    later.push(`CREATE TABLE ${partitionName(table, f)} PARTITION OF ${table} FOR VALUES FROM (${tsLiteral(f)}) TO (${tsLiteral(addIntervals(f, 'month', 1))})`);
  }
  await step(q, [
    `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`,
    `ALTER TABLE ${table} RENAME TO ${first}`,
    ...shape.keptConstraints.map((c) => `ALTER TABLE ${first} RENAME CONSTRAINT ${c} TO ${first}_${suffix(c)}`),
    ...shape.kept.map((i) => `ALTER INDEX ${i} RENAME TO ${first}_${suffix(i)}`),
    `ALTER TABLE ${first} RENAME CONSTRAINT ${BOUND(table)} TO ${first}_bound`,
    `CREATE TABLE ${table} (LIKE ${first} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) PARTITION BY RANGE (${column})`,
    `ALTER TABLE ${table} DROP CONSTRAINT ${first}_bound`,
    ...shape.parent,
    ...(table === 'log_lines'
      ? [
          // The parent's identity continues the plain table's; the partition's own is dropped with its old key.
          async () => {
            const [m] = (await q.query(`SELECT COALESCE(max(id), 0) + 1 AS next FROM (SELECT max(id) AS id FROM ${first} UNION ALL SELECT max(id) FROM ${defaultName}) x`)) as { next: string }[];
            await q.query(`ALTER TABLE ${table} ALTER COLUMN id RESTART WITH ${Number(m.next)}`);
          },
          `ALTER TABLE ${first} DROP CONSTRAINT log_lines_pkey, DROP CONSTRAINT log_lines_file_line_uq`,
          `ALTER TABLE ${first} ALTER COLUMN id DROP IDENTITY`,
        ]
      : []),
    `ALTER TABLE ${table} ATTACH PARTITION ${first} FOR VALUES FROM (${tsLiteral(from)}) TO (${tsLiteral(to)})`,
    `ALTER TABLE ${first} DROP CONSTRAINT ${first}_bound`,
    ...(table === 'log_lines'
      ? [`ALTER TABLE ${table} ATTACH PARTITION ${defaultName} DEFAULT`]
      : [`CREATE TABLE ${defaultName} PARTITION OF ${table} DEFAULT`]),
    // While the default partition's CHECK says it holds no times, making these does not scan it.
    ...later,
    ...(table === 'log_lines' ? [`ALTER TABLE ${defaultName} DROP CONSTRAINT ${defaultName}_no_time`] : []),
  ]);
}
