import type { PartitionInterval } from '@sluice/config';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import {
  addIntervals,
  defaultPartitionName,
  intervalStart,
  PARTITIONED_TABLE_NAMES,
  PARTITIONED_TABLES,
  partitionName,
  tsLiteral,
  type PartitionedTable,
} from './partition-bounds';
import { hasSqlState, SqlState } from './sql-state';
import { withTransaction } from './transaction';


/** Something `Partitions` did (or, in a dry run, would do). */
export interface PartitionChange {
  action: 'create' | 'drop' | 'move';
  table: PartitionedTable;
  /** The partition made, dropped, or that rows were moved into (from the default partition). */
  name: string;
  from: Date | null;
  to: Date | null;
  bytes?: number;
  rows?: number;
  /** Set when the change was not made (a lock it could not get in time): it is tried again next run. */
  skipped?: string;
}

export interface PartitionInfo {
  table: PartitionedTable;
  name: string;
  /** The range [from, to); both null for the default partition. */
  from: Date | null;
  to: Date | null;
  isDefault: boolean;
  /** Heap, indexes and TOAST. */
  bytes: number;
  /** The planner's estimate (pg_class.reltuples); an exact count for the default partition. */
  rows: number;
}

export interface PartitionOptions {
  /** Report what would change and change nothing. */
  dryRun?: boolean;
  /**
   * Wait at most this long for the locks (a PostgreSQL interval, PARTITION_LOCK_TIMEOUT when unset) and try once:
   * for a caller that has a fallback and must not wait long itself.
   */
  lockTimeout?: string;
}

/** How long a create or drop waits for its locks before it gives up (a long COPY must never be stalled behind it). */
export const PARTITION_LOCK_TIMEOUT = '2s';
/** Key space of the per-table transaction-level advisory lock that serializes creates and drops across replicas. */
const ADVISORY_KEY = 0x51ce_0a77;
const CREATE_ATTEMPTS = 3;
const DEADLOCK_DETECTED = '40P01';

/**
 * The time partitions of raw_sensor_data, detection_events and log_lines (see the PartitionedTables migration):
 * made ahead of time and for what a file touches, rows that landed in a table's DEFAULT partition moved into
 * the partition they belong to, and partitions past a retention horizon detached and dropped (never DELETEd).
 * Ranges are whole intervals in UTC (a week starts on Monday); a range already partly held by a partition
 * made with another interval is narrowed to the gap. Creates and drops of one table are serialized by a
 * transaction-level advisory lock, so two replicas never race. Identifiers come only from PARTITIONED_TABLES
 * and dates.
 */
export class Partitions {
  constructor(
    private readonly ds: DataSource,
    readonly interval: PartitionInterval,
  ) {}

  /** Every partition (of one table, or of all), oldest first, the default last. */
  list(table?: PartitionedTable): Promise<PartitionInfo[]> {
    return this.listOn((sql, params) => this.ds.query(sql, params), table);
  }

  /** `list`, on the connection of `query` (in a transaction that holds locks, its own). */
  private async listOn(query: Query, table?: PartitionedTable): Promise<PartitionInfo[]> {
    const tables = table ? [checked(table)] : PARTITIONED_TABLE_NAMES;
    const rows = (await query(
      `SELECT parent.relname AS "table", part.relname AS name,
              (regexp_match(pg_get_expr(part.relpartbound, part.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS "from",
              (regexp_match(pg_get_expr(part.relpartbound, part.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS "to",
              pg_get_expr(part.relpartbound, part.oid) = 'DEFAULT' AS "isDefault",
              pg_total_relation_size(part.oid)::float8 AS bytes,
              GREATEST(part.reltuples, 0)::float8 AS rows
         FROM pg_inherits i
         JOIN pg_class parent ON parent.oid = i.inhparent
         JOIN pg_class part ON part.oid = i.inhrelid
        WHERE parent.relnamespace = current_schema()::regnamespace AND parent.relname = ANY($1::text[]) AND parent.relkind = 'p'
        ORDER BY parent.relname, "isDefault", "from"`,
      [tables],
    )) as PartitionInfo[];
    for (const p of rows) {
      if (p.isDefault) p.rows = await this.count(p.table, false, query);
    }
    return rows;
  }

  /** Rows with a time in each table's default partition (rows that belong in a partition that is missing). */
  async defaultRows(): Promise<Record<PartitionedTable, number>> {
    const out = {} as Record<PartitionedTable, number>;
    for (const t of PARTITIONED_TABLE_NAMES) out[t] = await this.count(t, true);
    return out;
  }

  /**
   * Makes the partitions missing in [from, to), whole intervals, moving rows of their ranges out of the
   * default partition in the same transaction.
   */
  async ensure(table: PartitionedTable, from: Date, to: Date, opts: PartitionOptions = {}): Promise<PartitionChange[]> {
    checked(table);
    const wanted: [Date, Date][] = [];
    for (let s = intervalStart(from, this.interval); s < to || wanted.length === 0; s = addIntervals(s, this.interval, 1)) {
      wanted.push([s, addIntervals(s, this.interval, 1)]);
      if (wanted.length > 10_000) throw new Error(`too many ${this.interval} partitions asked of ${table}`);
    }
    if (opts.dryRun) return this.plan(table, wanted, await this.list(table), (sql, params) => this.ds.query(sql, params));
    const attempts = opts.lockTimeout ? 1 : CREATE_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.ds, async (client) => {
          await this.lock(client, table, opts.lockTimeout);
          const q = async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows;
          const first = await this.plan(table, wanted, await this.listOn(q, table), q);
          if (!first.length) return [];
          // Moving rows: the parent too, or a query planned before the ATTACH (with the partitions it knew) and run
          // after it would find the rows neither in the default partition nor in one it knew of.
          const moving = first.some((c) => c.action === 'move');
          if (moving) await client.query(`LOCK TABLE ONLY ${table} IN ACCESS EXCLUSIVE MODE`);
          // ATTACH locks the default partition anyway; taken first, no row can land in a range between its move and the ATTACH.
          await client.query(`LOCK TABLE ${defaultPartitionName(table)} IN ACCESS EXCLUSIVE MODE`);
          const changes = await this.plan(table, wanted, await this.listOn(q, table), q);
          // Rows came meanwhile (a lock taken out of order: a deadlock is broken by the server, and tried again).
          if (!moving && changes.some((c) => c.action === 'move')) await client.query(`LOCK TABLE ONLY ${table} IN ACCESS EXCLUSIVE MODE`);
          const column = PARTITIONED_TABLES[table];
          for (const c of changes) {
            if (c.action !== 'create') continue;
            const range = `${column} >= ${tsLiteral(c.from as Date)} AND ${column} < ${tsLiteral(c.to as Date)}`;
            // A table of its own first, then attached: ATTACH locks the parent only against other DDL (loads go on).
            await client.query(`CREATE TABLE ${c.name} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
            if (changes.some((m) => m.action === 'move' && m.name === c.name)) {
              await client.query(`WITH moved AS (DELETE FROM ${defaultPartitionName(table)} WHERE ${range} RETURNING *) INSERT INTO ${c.name} SELECT * FROM moved`);
            }
            await client.query(`ALTER TABLE ${table} ATTACH PARTITION ${c.name} FOR VALUES FROM (${tsLiteral(c.from as Date)}) TO (${tsLiteral(c.to as Date)})`);
          }
          return changes;
        });
      } catch (e) {
        const retry = hasSqlState(e, SqlState.lockNotAvailable) || (e as { code?: unknown } | null)?.code === DEADLOCK_DETECTED;
        if (!retry || attempt >= attempts) throw e;
      }
    }
  }

  /** For every table, the partitions of the current interval and the two after it. */
  async ensureAhead(now: Date, opts: PartitionOptions = {}): Promise<PartitionChange[]> {
    const from = intervalStart(now, this.interval);
    const to = addIntervals(from, this.interval, 3);
    const out: PartitionChange[] = [];
    for (const t of PARTITIONED_TABLE_NAMES) out.push(...(await this.ensure(t, from, to, opts)));
    return out;
  }

  /**
   * Rows with a time in a default partition (of every table, or of `tables`; with `before`, only rows older than
   * it): the partitions they belong to are made and the rows moved there. Returns the partitions created and, as `move` changes, the rows moved into each.
   */
  async rehomeDefault(opts: PartitionOptions & { tables?: readonly PartitionedTable[]; before?: Date } = {}): Promise<PartitionChange[]> {
    const unit = this.interval === 'month' ? 'month' : this.interval === 'week' ? 'week' : 'day';
    const out: PartitionChange[] = [];
    for (const t of opts.tables ?? PARTITIONED_TABLE_NAMES) {
      const column = PARTITIONED_TABLES[checked(t)];
      const starts = (await this.ds.query(
        `SELECT DISTINCT date_trunc('${unit}', ${column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS s FROM ${defaultPartitionName(t)}
          WHERE ${column} IS NOT NULL AND ($1::timestamptz IS NULL OR ${column} < $1::timestamptz) ORDER BY 1`,
        [opts.before ?? null],
      )) as { s: Date }[];
      for (const { s } of starts) out.push(...(await this.ensure(t, s, addIntervals(s, this.interval, 1), { dryRun: opts.dryRun })));
    }
    return out;
  }

  /**
   * Detaches and drops every partition of `table` whose range ends at or before `horizon` (never the default;
   * never a DELETE). Each waits at most PARTITION_LOCK_TIMEOUT for its locks; one it could not lock is
   * reported `skipped` and left for the next run.
   */
  async dropBefore(table: PartitionedTable, horizon: Date, opts: PartitionOptions = {}): Promise<PartitionChange[]> {
    checked(table);
    const old = (await this.list(table)).filter((p) => !p.isDefault && p.to !== null && p.to <= horizon);
    const out: PartitionChange[] = [];
    for (const p of old) {
      const change: PartitionChange = { action: 'drop', table, name: p.name, from: p.from, to: p.to, bytes: p.bytes, rows: p.rows };
      if (!opts.dryRun) {
        try {
          await withTransaction(this.ds, async (client) => {
            await this.lock(client, table);
            // Gone already (another replica dropped it while this one waited)?
            const still = await client.query(`SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = $2::regclass`, [p.name, table]);
            if (still.rowCount === 0) throw new Gone();
            await client.query(`ALTER TABLE ${table} DETACH PARTITION ${p.name}`);
            await client.query(`DROP TABLE ${p.name}`);
          });
        } catch (e) {
          if (e instanceof Gone) continue;
          if (!hasSqlState(e, SqlState.lockNotAvailable)) throw e;
          change.skipped = 'lock_timeout';
        }
      }
      out.push(change);
    }
    return out;
  }

  /** The creates (narrowed to what no partition holds) and the moves out of the default partition they need. */
  private async plan(
    table: PartitionedTable,
    wanted: [Date, Date][],
    existing: PartitionInfo[],
    query: Query,
  ): Promise<PartitionChange[]> {
    const held = existing.filter((p) => !p.isDefault && p.from && p.to).map((p) => [p.from as Date, p.to as Date] as const);
    const names = new Set(existing.map((p) => p.name));
    const column = PARTITIONED_TABLES[table];
    const out: PartitionChange[] = [];
    for (const [s, e] of wanted) {
      for (const [from, to] of gaps(s, e, held)) {
        const name = partitionName(table, from);
        if (names.has(name)) continue;
        names.add(name);
        out.push({ action: 'create', table, name, from, to });
        const [{ n }] = (await query(`SELECT count(*)::int AS n FROM ${defaultPartitionName(table)} WHERE ${column} >= $1 AND ${column} < $2`, [from, to])) as { n: number }[];
        if (n > 0) out.push({ action: 'move', table, name, from, to, rows: n });
      }
    }
    return out;
  }

  private async lock(client: PoolClient, table: PartitionedTable, timeout = PARTITION_LOCK_TIMEOUT): Promise<void> {
    if (!/^\d+(ms|s)$/.test(timeout)) throw new Error(`lock timeout ${timeout} is not a number of ms or s`);
    await client.query(`SET LOCAL lock_timeout = '${timeout}'`);
    await client.query(`SELECT pg_advisory_xact_lock($1, $2)`, [ADVISORY_KEY, PARTITIONED_TABLE_NAMES.indexOf(table)]);
  }

  private async count(table: PartitionedTable, timedOnly: boolean, query: Query = (sql, params) => this.ds.query(sql, params)): Promise<number> {
    const column = PARTITIONED_TABLES[table];
    const [{ n }] = (await query(`SELECT count(*)::float8 AS n FROM ${defaultPartitionName(table)}${timedOnly ? ` WHERE ${column} IS NOT NULL` : ''}`)) as { n: number }[];
    return n;
  }
}

type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;

class Gone extends Error {}

function checked(table: PartitionedTable): PartitionedTable {
  if (!Object.prototype.hasOwnProperty.call(PARTITIONED_TABLES, table)) throw new Error(`${String(table)} is not a partitioned table`);
  return table;
}

/** The parts of [from, to) that no held range covers. */
function gaps(from: Date, to: Date, held: ReadonlyArray<readonly [Date, Date]>): [Date, Date][] {
  let parts: [Date, Date][] = [[from, to]];
  for (const [hs, he] of held) {
    const next: [Date, Date][] = [];
    for (const [s, e] of parts) {
      if (he <= s || hs >= e) {
        next.push([s, e]);
        continue;
      }
      if (s < hs) next.push([s, hs]);
      if (he < e) next.push([he, e]);
    }
    parts = next;
  }
  return parts;
}
