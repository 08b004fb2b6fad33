import { createHash } from 'node:crypto';
import { DATASET_SCHEMA_NAME } from '@sluice/config';
import { IDENTIFIER } from '@sluice/contracts';
import type { ColumnType, Contract, ContractColumn, ContractVersion } from '@sluice/datasets';
import type { PoolClient } from 'pg';
import { withTransaction, type ConnectionPool } from '../transaction';

/** How long DDL on a contract's table, and the lock that serializes it, waits for its locks before it gives up. */
export const DATASET_LOCK_TIMEOUT = '5s';
/** Key space of the per-table transaction-level advisory locks (the second key is the table's). */
const ADVISORY_KEY = 0x51ce_da7a;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The most text of a contract file recorded with its version (a contract is a page of YAML). */
const MAX_CONTRACT_TEXT_BYTES = 1024 ** 2;
/** PostgreSQL allows 1600 columns a table; room is left for the lineage columns and for add_columns. */
const MAX_CONTRACT_COLUMNS = 1000;

/**
 * Each contract type's PostgreSQL type: as written in DDL, and as `format_type` names it in the catalog (what a
 * live table's column is compared with). Nothing else reaches SQL as a type.
 */
const PG_TYPES: Record<ColumnType, { ddl: string; catalog: string }> = {
  text: { ddl: 'text', catalog: 'text' },
  int: { ddl: 'integer', catalog: 'integer' },
  bigint: { ddl: 'bigint', catalog: 'bigint' },
  float: { ddl: 'double precision', catalog: 'double precision' },
  numeric: { ddl: 'numeric', catalog: 'numeric' },
  bool: { ddl: 'boolean', catalog: 'boolean' },
  timestamptz: { ddl: 'timestamptz', catalog: 'timestamp with time zone' },
  date: { ddl: 'date', catalog: 'date' },
  jsonb: { ddl: 'jsonb', catalog: 'jsonb' },
};

/** The PostgreSQL type of a contract column type, as written in SQL (a cast of a bound value, say). */
export function sqlTypeOf(type: ColumnType): string {
  return PG_TYPES[type].ddl;
}

/** The columns every contract table has besides the contract's: which file a row came from, and its line there. */
const LINEAGE_COLUMNS = [
  { name: 'file_id', ddl: 'uuid', catalog: 'uuid', why: 'the file a row came from' },
  { name: 'line', ddl: 'integer', catalog: 'integer', why: "the row's line in its file" },
] as const;
const LINEAGE_NAMES: ReadonlySet<string> = new Set(LINEAGE_COLUMNS.map((c) => c.name));

type Nullability = 'not_null' | 'nullable';

/** One way a live table differs from its contract. */
export type TableColumnDiff =
  | { kind: 'not_a_table'; found: string }
  | { kind: 'missing_column'; column: string; expected: string }
  | { kind: 'lineage_missing'; column: string; expected: string }
  | { kind: 'type_differs'; column: string; expected: string; found: string }
  | { kind: 'nullability_differs'; column: string; expected: Nullability; found: Nullability }
  | { kind: 'key_differs'; expected: string[]; found: string[] }
  /** `fillable`: nullable or with a default, so rows load without it; not a mismatch then (add_columns makes such). */
  | { kind: 'extra_column'; column: string; found: string; fillable: boolean };

export type TableCheck = { exists: false } | { exists: true; matches: boolean; diff: TableColumnDiff[] };

export type EnsureResult = { created: boolean; statements: string[] } | { refused: string[]; diff: TableColumnDiff[] };
export type AddColumnsResult = { statements: string[] } | { refused: string[] };

/** A contract whose table cannot be made from it: a name, type or key no reader should have let through. */
export class DatasetTableError extends Error {
  override name = 'DatasetTableError';
}

/** Whether a difference keeps rows of the contract from loading into the table as it is. */
export function isMismatch(diff: TableColumnDiff): boolean {
  return !(diff.kind === 'extra_column' && diff.fillable);
}

/** One line a data engineer reads: what differs, and what the contract and the table each say. */
export function formatTableDiff(diff: TableColumnDiff): string {
  switch (diff.kind) {
    case 'not_a_table':
      return `the name is taken by a ${diff.found}, not a table`;
    case 'missing_column':
      return `column ${diff.column} (${diff.expected}) is in the contract but not in the table`;
    case 'lineage_missing':
      return `column ${diff.column} (${diff.expected} NOT NULL), which every contract table has, is not in the table`;
    case 'type_differs':
      return `column ${diff.column} is ${diff.expected} in the contract but ${diff.found} in the table`;
    case 'nullability_differs':
      return diff.expected === 'not_null'
        ? `column ${diff.column} is required (NOT NULL) in the contract but nullable in the table`
        : `column ${diff.column} may be empty in the contract but is NOT NULL in the table: a row without it could not be loaded`;
    case 'key_differs':
      return `the primary key is (${diff.expected.join(', ')}) in the contract but ${diff.found.length ? `(${diff.found.join(', ')})` : 'missing'} in the table`;
    case 'extra_column':
      return diff.fillable
        ? `column ${diff.column} (${diff.found}) is in the table but not in the contract: fine, rows leave it ${/NOT NULL/.test(diff.found) ? 'at its default' : 'null'} (a column add_columns added, say)`
        : `column ${diff.column} (${diff.found}) is in the table but not in the contract, and no row could be loaded without a value for it`;
    default: {
      const unknown: never = diff;
      return String(unknown);
    }
  }
}

/**
 * The tables data contracts load into, in one schema of their own (CONTRACTS_SCHEMA), and the record of contract
 * versions (contract_versions) and of the DDL run for them (dataset_ddl). A table is made from its contract when
 * missing and checked against it when there; one that differs is refused, never altered, except for the nullable
 * columns the `add_columns` drift policy adds. Every identifier is checked again here and double-quoted: nothing
 * else from a contract reaches SQL text. DDL on one table is serialized across processes by a transaction-level
 * advisory lock and waits at most DATASET_LOCK_TIMEOUT for its locks (a lock_timeout error: try again later).
 *
 * Methods that take a client run in the caller's transaction (READ COMMITTED, the default): what they create
 * commits or rolls back with it, and their locks are held until then.
 */
export class DatasetTables {
  readonly schema: string;

  constructor(
    private readonly ds: ConnectionPool,
    schema: string,
  ) {
    if (!DATASET_SCHEMA_NAME.test(schema)) {
      throw new DatasetTableError(`${JSON.stringify(schema)} cannot hold contract tables: CONTRACTS_SCHEMA must be a lower-case identifier other than public, information_schema or pg_…`);
    }
    this.schema = schema;
  }

  /** Records a version of a contract (its name, sha256 and text) unless it is recorded already. */
  async record(client: PoolClient, version: ContractVersion): Promise<void> {
    const name = identifier(version.contract.name, 'contract name');
    if (!SHA256_HEX.test(version.hash)) throw new DatasetTableError(`contract ${name}: its version ${JSON.stringify(version.hash.slice(0, 80))} is not a sha256 in hex`);
    if (Buffer.byteLength(version.text) > MAX_CONTRACT_TEXT_BYTES) throw new DatasetTableError(`contract ${name}: its file is larger than ${MAX_CONTRACT_TEXT_BYTES} bytes, too large to record`);
    await client.query(`INSERT INTO contract_versions (name, hash, text) VALUES ($1, $2, $3) ON CONFLICT (name, hash) DO NOTHING`, [name, version.hash, version.text]);
  }

  /** The DDL that makes the contract's table: its schema, the table with its key, and its indexes. */
  plan(contract: Contract): string[] {
    const table = this.qualified(contract);
    const columns = checkedColumns(contract);
    const key = checkedKey(contract, columns);
    const keySet = new Set(key);
    const definitions = [
      ...columns.map((c) => `${quote(c.name)} ${PG_TYPES[c.type].ddl}${c.required || keySet.has(c.name) ? ' NOT NULL' : ''}`),
      ...LINEAGE_COLUMNS.map((c) => `${quote(c.name)} ${c.ddl} NOT NULL`),
      `PRIMARY KEY (${key.map(quote).join(', ')})`,
    ];
    // Indexes are left for PostgreSQL to name (<table>_<column>_idx, shortened and made unique when too long).
    const statements = [
      `CREATE SCHEMA IF NOT EXISTS ${quote(this.schema)}`,
      `CREATE TABLE ${table} (${definitions.join(', ')})`,
      // The rows of one file, for lineage and replay.
      `CREATE INDEX ON ${table} (${quote('file_id')})`,
    ];
    const time = contract.table.timeColumn;
    if (time !== undefined) {
      if (!columns.some((c) => c.name === time)) throw new DatasetTableError(`contract ${contract.name}: its time column ${JSON.stringify(time)} is not one of its columns`);
      // A key that starts with it serves range reads already.
      if (key[0] !== time) statements.push(`CREATE INDEX ON ${table} (${quote(time)})`);
    }
    return statements;
  }

  /** Whether the contract's table exists and, if so, how it differs from the contract, column by column. */
  async inspect(client: PoolClient, contract: Contract): Promise<TableCheck> {
    const columns = checkedColumns(contract);
    const key = checkedKey(contract, columns);
    const table = identifier(contract.table.name, 'table name');
    const { rows: found } = await client.query<{ oid: string; kind: string }>(
      `SELECT c.oid::text AS oid, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [this.schema, table],
    );
    if (found.length === 0) return { exists: false };
    const { oid, kind } = found[0];
    if (kind !== 'r' && kind !== 'p') return { exists: true, matches: false, diff: [{ kind: 'not_a_table', found: RELATION_KINDS[kind] ?? 'relation' }] };

    const { rows: live } = await client.query<LiveColumn>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull",
              (atthasdef OR attidentity <> '' OR attgenerated <> '') AS "hasDefault"
         FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [oid],
    );
    const { rows: keyRows } = await client.query<{ name: string }>(
      `SELECT a.attname AS name
         FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.position`,
      [oid],
    );
    const byName = new Map(live.map((c) => [c.name, c]));
    const keySet = new Set(key);
    const diff: TableColumnDiff[] = [];
    const nullability = (notNull: boolean): Nullability => (notNull ? 'not_null' : 'nullable');
    const compare = (name: string, expected: { ddl: string; catalog: string }, notNull: boolean, missing: 'missing_column' | 'lineage_missing') => {
      const column = byName.get(name);
      if (!column) {
        diff.push({ kind: missing, column: name, expected: expected.ddl });
        return;
      }
      if (column.type !== expected.catalog) diff.push({ kind: 'type_differs', column: name, expected: expected.ddl, found: column.type });
      if (column.notNull !== notNull) diff.push({ kind: 'nullability_differs', column: name, expected: nullability(notNull), found: nullability(column.notNull) });
    };
    for (const c of columns) compare(c.name, PG_TYPES[c.type], c.required || keySet.has(c.name), 'missing_column');
    for (const c of LINEAGE_COLUMNS) compare(c.name, c, true, 'lineage_missing');
    const known = new Set([...columns.map((c) => c.name), ...LINEAGE_NAMES]);
    for (const c of live) {
      if (!known.has(c.name)) diff.push({ kind: 'extra_column', column: c.name, found: c.notNull ? `${c.type} NOT NULL` : c.type, fillable: !c.notNull || c.hasDefault });
    }
    const liveKey = keyRows.map((r) => r.name);
    if (liveKey.join('\0') !== key.join('\0')) diff.push({ kind: 'key_differs', expected: key, found: liveKey });
    return { exists: true, matches: !diff.some(isMismatch), diff };
  }

  /**
   * Makes the contract's table when it is missing (each statement recorded in dataset_ddl) and records the
   * version; refuses, with the differences, a table that does not match the contract (it is left as it is). A
   * table that exists and matches takes no lock. In the caller's transaction.
   */
  async ensure(client: PoolClient, version: ContractVersion): Promise<EnsureResult> {
    const contract = version.contract;
    const statements = this.plan(contract);
    await this.record(client, version);
    const seen = await this.inspect(client, contract);
    if (seen.exists) return settled(seen);
    return this.underLock(client, contract, async () => {
      // Another process may have made it while this one waited for the lock.
      const now = await this.inspect(client, contract);
      if (now.exists) return settled(now);
      const { rows } = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [this.schema]);
      // CREATE SCHEMA IF NOT EXISTS is not safe against itself when two tables are made at once.
      if (rows.length === 0) await client.query(`SELECT pg_advisory_xact_lock($1, $2)`, [ADVISORY_KEY, lockKey(this.schema)]);
      for (const statement of statements) await this.run(client, version, statement);
      return { created: true, statements };
    });
  }

  /** `ensure` in a transaction of its own, committed before it returns: a load started after it waits on no lock of it. */
  prepare(version: ContractVersion): Promise<EnsureResult> {
    return withTransaction(this.ds, (client) => this.ensure(client, version));
  }

  /**
   * Adds columns to the contract's table, always nullable (`ALTER TABLE … ADD COLUMN`, recorded in dataset_ddl):
   * the `add_columns` drift policy, in the load's transaction. A column the table has already with the same type
   * is left as it is; one it has with another type is refused.
   */
  async addColumns(client: PoolClient, version: ContractVersion, columns: ContractColumn[]): Promise<AddColumnsResult> {
    const contract = version.contract;
    const table = this.qualified(contract);
    const wanted = columns.map((c) => checkedColumn(contract, c));
    if (new Set(wanted.map((c) => c.name)).size !== wanted.length) throw new DatasetTableError(`contract ${contract.name}: a column to add is named twice`);
    if (wanted.length === 0) return { statements: [] };
    await this.record(client, version);
    return this.underLock(client, contract, async () => {
      const { rows: live } = await client.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
        [table],
      );
      if (live.length === 0) throw new DatasetTableError(`contract ${contract.name}: its table ${this.schema}.${contract.table.name} does not exist, so no column can be added to it`);
      const types = new Map(live.map((c) => [c.name, c.type]));
      const refused = wanted
        .filter((c) => types.has(c.name) && types.get(c.name) !== PG_TYPES[c.type].catalog)
        .map((c) => formatTableDiff({ kind: 'type_differs', column: c.name, expected: PG_TYPES[c.type].ddl, found: types.get(c.name) as string }));
      if (refused.length) return { refused };
      const missing = wanted.filter((c) => !types.has(c.name));
      if (missing.length === 0) return { statements: [] };
      const statement = `ALTER TABLE ${table} ${missing.map((c) => `ADD COLUMN ${quote(c.name)} ${PG_TYPES[c.type].ddl}`).join(', ')}`;
      await this.run(client, version, statement);
      return { statements: [statement] };
    });
  }

  /** `"schema"."table"` of a contract, its name checked. */
  private qualified(contract: Contract): string {
    return `${quote(this.schema)}.${quote(identifier(contract.table.name, 'table name'))}`;
  }

  /**
   * Runs `work` holding the table's advisory lock, with lock_timeout at DATASET_LOCK_TIMEOUT; the caller's
   * lock_timeout is put back afterwards, so the rest of its transaction (a long COPY) is not cut short by it.
   */
  private async underLock<T>(client: PoolClient, contract: Contract, work: () => Promise<T>): Promise<T> {
    const { rows } = await client.query<{ previous: string }>(`SELECT current_setting('lock_timeout') AS previous`);
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [DATASET_LOCK_TIMEOUT]);
    const restore = () => client.query(`SELECT set_config('lock_timeout', $1, true)`, [rows[0].previous]);
    let result: T;
    try {
      await client.query(`SELECT pg_advisory_xact_lock($1, $2)`, [ADVISORY_KEY, lockKey(`${this.schema}.${contract.table.name}`)]);
      result = await work();
    } catch (e) {
      // After a failed statement the transaction takes no more queries; the error that matters is the first.
      await restore().catch(() => undefined);
      throw e;
    }
    await restore();
    return result;
  }

  private async run(client: PoolClient, version: ContractVersion, statement: string): Promise<void> {
    await client.query(statement);
    await client.query(`INSERT INTO dataset_ddl (contract_name, contract_hash, statement) VALUES ($1, $2, $3)`, [version.contract.name, version.hash, statement]);
  }
}

interface LiveColumn {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

const RELATION_KINDS: Record<string, string> = { v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence', i: 'index', I: 'index', c: 'type' };

function settled(check: { matches: boolean; diff: TableColumnDiff[] }): EnsureResult {
  if (check.matches) return { created: false, statements: [] };
  const diff = check.diff.filter(isMismatch);
  return { refused: diff.map(formatTableDiff), diff };
}

function identifier(name: unknown, what: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    const shown = JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : name);
    throw new DatasetTableError(`${shown} is not a valid ${what}: lower-case letters, digits and _, starting with a letter or _, at most 63 characters`);
  }
  return name;
}

/** A checked identifier in double quotes (a reserved word such as `order` then works as a name too). */
function quote(name: string): string {
  return `"${identifier(name, 'name')}"`;
}

function checkedColumn(contract: Contract, column: ContractColumn): ContractColumn {
  const name = identifier(column.name, `column name in contract ${contract.name}`);
  if (LINEAGE_NAMES.has(name)) throw new DatasetTableError(`contract ${contract.name}: column ${name} is a name every contract table keeps for itself (${[...LINEAGE_NAMES].join(', ')})`);
  if (!Object.prototype.hasOwnProperty.call(PG_TYPES, column.type)) {
    throw new DatasetTableError(`contract ${contract.name}: column ${name} has type ${JSON.stringify(String(column.type).slice(0, 40))}, not one of ${Object.keys(PG_TYPES).join(', ')}`);
  }
  return column;
}

function checkedColumns(contract: Contract): ContractColumn[] {
  identifier(contract.name, 'contract name');
  if (contract.columns.length === 0) throw new DatasetTableError(`contract ${contract.name} has no columns`);
  if (contract.columns.length > MAX_CONTRACT_COLUMNS) throw new DatasetTableError(`contract ${contract.name} has ${contract.columns.length} columns, more than the ${MAX_CONTRACT_COLUMNS} a table of it may have`);
  const columns = contract.columns.map((c) => checkedColumn(contract, c));
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) throw new DatasetTableError(`contract ${contract.name}: column ${c.name} is named twice`);
    seen.add(c.name);
  }
  return columns;
}

function checkedKey(contract: Contract, columns: ContractColumn[]): string[] {
  const key = contract.table.key;
  if (key.length === 0) throw new DatasetTableError(`contract ${contract.name}: table.key names no column; name the columns that identify a row`);
  const names = new Set(columns.map((c) => c.name));
  for (const k of key) {
    if (!names.has(identifier(k, `key column in contract ${contract.name}`))) throw new DatasetTableError(`contract ${contract.name}: key column ${k} is not one of its columns`);
  }
  if (new Set(key).size !== key.length) throw new DatasetTableError(`contract ${contract.name}: table.key names a column twice`);
  return [...key];
}

/** A 32-bit advisory lock key of a name (stable across processes and versions, unlike hashtext). */
function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0);
}
