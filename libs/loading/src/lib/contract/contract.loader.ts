import { quoteIdentifier, type RejectReason } from '@sluice/contracts';
import { readRecords, type ColumnDiff, type Contract, type ContractColumn, type ContractVersion, type RecordLimits } from '@sluice/datasets';
import { isConcurrentPartitionChange, rowsOf } from '@sluice/db';
import { DEFAULT_MAX_CSV_COLUMNS, type RowReject } from '@sluice/formats';
import type { PoolClient } from 'pg';
import { DEFAULT_MAX_LINE_BYTES } from '../json/ndjson.loader';
import { timeStage, type LoadOptions } from '../kind-loader';
import { destroy, progressEvery } from '../load-stream';
import { CopySink, isUniqueViolation } from '../sensor/copy-sink';
import { writeRowErrors } from '../sensor/ingest-errors.writer';
import { MAX_ROW_ERRORS, RowTally } from '../sensor/row-tally';
import { planColumns, type ColumnPlan } from './column-plan';
import { duplicateInFile, duplicateLoaded, endsFile, RowMaker, showKey } from './contract-rows';

export interface ContractLoadOptions extends LoadOptions {
  /** Schema of the contract's table (CONTRACTS_SCHEMA). */
  schema: string;
  /**
   * With `drift: add_columns`: adds the given columns to the table as nullable text, on `client` (the load's
   * transaction, so a refused file takes them back). Called at most once per load, before any row is written,
   * and again by every later file bringing the same columns, so it must be idempotent (`ADD COLUMN IF NOT EXISTS`).
   */
  addColumns?: (columns: ContractColumn[], client: PoolClient) => Promise<void>;
}

export interface ContractLoadResult {
  /** Records read (CSV records, JSON items, NDJSON lines; blank lines not counted). */
  rowsTotal: number;
  /** Records whose row is now in the table (a replay's rows count again: they are loaded). */
  rowsLoaded: number;
  /** Records refused: unreadable, a value the contract refuses, a key already loaded under `reject`. */
  rowsRejected: number;
  /** Records not written by the key policy: a key already loaded (`skip`), or an older version (`newest_wins`). */
  rowsDuplicate: number;
  rejection: RejectReason | null;
  /** How the file's columns differ from the contract's, whatever the drift policy did about it. */
  drift: ColumnDiff[];
}

/** Keys of the file held in memory to find its own repeats cheaply; past them, a repeat is found by the table's key (then the set-based pass). */
export const MAX_MEMORY_KEYS = 250_000;
const LOAD_SAVEPOINT = 'sluice_contract_load';
const COPY_SAVEPOINT = 'sluice_contract_copy';
const STAGE = 'sluice_contract_stage';

/** What a pass over the file ended with; `slow` sends the load to the set-based pass. */
type Pass = { slow: true; plan: ColumnPlan } | Outcome;

interface Outcome {
  slow: false;
  tally: RowTally;
  duplicates: number;
  rejection: RejectReason | null;
  drift: ColumnDiff[];
  /** Row errors beyond the tally's: the reason a whole file was refused, as a row error people see. */
  fileError: RowReject | null;
}

/**
 * Loads one file through a data contract into the contract's table, inside the caller's transaction (the
 * file's ledger row locked). Like every loader it is idempotent, replaces an earlier attempt's row errors,
 * and leaves nothing behind when it refuses the file (rows, and columns it added, are rolled back).
 *
 * Fast pass: values checked while COPYing straight into the table in a savepoint, the file's own repeated
 * keys found in memory (up to `maxMemoryKeys`; past them the table's key finds a repeat). Slow pass, when a key
 * is already in the table (another file, or a replay, or a repeat memory did not hold) or the file repeats a key
 * under `newest_wins`: roll back, COPY into a staging table, and apply the key policy in one statement.
 */
export class ContractLoader {
  /** `maxMemoryKeys`: keys of a file held in memory; a repeat of a key past them is found by the table's primary key. */
  constructor(private readonly memory: { maxMemoryKeys: number } = { maxMemoryKeys: MAX_MEMORY_KEYS }) {}

  async load(client: PoolClient, fileId: string, version: ContractVersion, open: () => NodeJS.ReadableStream, opts: ContractLoadOptions): Promise<ContractLoadResult> {
    const load = new FileLoad(client, fileId, version.contract, open, opts, this.memory.maxMemoryKeys);
    // Errors of an earlier attempt of this file are replaced by this attempt's.
    await client.query(`DELETE FROM ingest_errors WHERE file_id = $1`, [fileId]);
    await client.query(`SAVEPOINT ${LOAD_SAVEPOINT}`);
    let outcome: Outcome;
    try {
      const fast = await load.fastPass();
      if (fast.slow) {
        await client.query(`ROLLBACK TO SAVEPOINT ${COPY_SAVEPOINT}`);
        outcome = await load.slowPass(fast.plan);
      } else outcome = fast;
    } catch (e) {
      await client.query(`ROLLBACK TO SAVEPOINT ${LOAD_SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${LOAD_SAVEPOINT}`);
      throw e;
    }
    const { tally, rejection } = outcome;
    if (rejection) await client.query(`ROLLBACK TO SAVEPOINT ${LOAD_SAVEPOINT}`);
    await client.query(`RELEASE SAVEPOINT ${LOAD_SAVEPOINT}`);
    await timeStage(opts.onStage, 'row_errors', () => writeRowErrors(client, fileId, outcome.fileError ? [outcome.fileError, ...tally.errors] : tally.errors));
    return {
      rowsTotal: tally.total,
      rowsLoaded: rejection ? 0 : tally.total - tally.bad - outcome.duplicates,
      rowsRejected: tally.bad,
      rowsDuplicate: rejection ? 0 : outcome.duplicates,
      rejection,
      drift: outcome.drift,
    };
  }
}

/** One load of one file: its contract's SQL, and the two passes. */
class FileLoad {
  private readonly table: string;
  private readonly keys: string[];
  private readonly limits: RecordLimits;
  /** Each wait for the server during a COPY, told to the caller as the load's `copy` stage. */
  private readonly copyWait = (ms: number) => this.opts.onStage?.('copy', ms);

  constructor(
    private readonly client: PoolClient,
    private readonly fileId: string,
    private readonly contract: Contract,
    private readonly open: () => NodeJS.ReadableStream,
    private readonly opts: ContractLoadOptions,
    private readonly maxMemoryKeys: number,
  ) {
    this.table = `${quoteIdentifier(opts.schema)}.${quoteIdentifier(contract.table.name)}`;
    const names = new Set(contract.columns.map((c) => c.name));
    for (const key of contract.table.key) if (!names.has(key)) throw new Error(`Contract "${contract.name}": key column "${key}" is not one of its columns.`);
    if (!contract.table.key.length) throw new Error(`Contract "${contract.name}" has no key columns.`);
    this.keys = contract.table.key.map(quoteIdentifier);
    if (contract.table.onDuplicateKey === 'newest_wins' && !(contract.table.newestBy && names.has(contract.table.newestBy))) {
      throw new Error(`Contract "${contract.name}": newest_wins needs newest_by to name one of its columns.`);
    }
    this.limits = {
      maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      maxColumns: opts.maxCsvColumns ?? DEFAULT_MAX_CSV_COLUMNS,
      maxJsonDepth: opts.maxJsonDepth,
      maxDocumentBytes: opts.maxJsonDocumentBytes,
    };
  }

  // ---- fast pass ----------------------------------------------------------------------------------------------

  /** COPY straight into the table, the file's own repeats found in memory; `slow` when that cannot decide. */
  async fastPass(): Promise<Pass> {
    const tally = new RowTally(this.opts);
    const progress = progressEvery(this.opts.onProgress);
    const policy = this.contract.table.onDuplicateKey;
    /** The line each key of the file was first seen on. */
    const seen = new Map<string, number>();
    let tracking = this.maxMemoryKeys > 0;
    let plan: ColumnPlan | null = null;
    let rows: RowMaker | null = null;
    let copy: CopySink | null = null;
    let duplicates = 0;
    const stream = this.open();
    try {
      for await (const batch of readRecords(stream, this.contract.format, this.limits)) {
        if (!plan && (batch.header || batch.records.length)) {
          const planned = planColumns(this.contract, batch);
          if ('refusal' in planned) return this.refusedForDrift(tally, planned.refusal, planned.drift);
          plan = planned;
          rows = new RowMaker(plan, this.contract, this.fileId);
          if (plan.added.length) await this.addColumns(plan.added);
          // The slow pass rolls back to here: the columns added stay, the rows COPYed go.
          await this.client.query(`SAVEPOINT ${COPY_SAVEPOINT}`);
        }
        const rejects = [...batch.rejects];
        let text = '';
        let good = 0;
        for (const record of batch.records) {
          const row = (rows as RowMaker).make(record);
          if ('rule' in row) {
            rejects.push(row);
            continue;
          }
          // Past the bound memory is no longer asked at all (a lookup in a large Map costs as much as the rest of
          // the row): the table's key finds a repeat, the COPY fails and the slow pass decides.
          const earlier = tracking ? seen.get(row.key) : undefined;
          if (earlier === undefined) {
            if (tracking) {
              seen.set(row.key, record.line);
              tracking = seen.size < this.maxMemoryKeys;
            }
            text += row.text;
            good++;
          } else if (policy === 'reject') {
            rejects.push(duplicateInFile(record.line, earlier, showKey(this.contract, row.key.split('\t')), this.contract));
          } else if (policy === 'skip') {
            duplicates++;
            good++;
          } else {
            // newest_wins: which version wins is the slow pass's one statement.
            return await this.toSlowPass(copy, plan as ColumnPlan);
          }
        }
        tally.addRows(good);
        rejects.sort((a, b) => a.line - b.line);
        if (tally.addRejects(rejects)) {
          await copy?.abort('file refused');
          return this.outcome(tally, duplicates, plan);
        }
        progress(batch.records.length + batch.rejects.length);
        const ended = batch.rejects.find((r) => endsFile(this.contract.format, r));
        if (ended) {
          await copy?.abort('file refused');
          return this.endedEarly(tally, ended, plan);
        }
        if (!text) continue;
        copy ??= new CopySink(this.client, this.copySql(this.table, plan as ColumnPlan), { onWait: this.copyWait });
        await copy.write(text);
      }
      if (copy) await copy.end();
      return this.outcome(tally, duplicates, plan);
    } catch (e) {
      // A key another file (or an earlier load of this one) holds, or a partition made while this COPY ran.
      if ((isUniqueViolation(e) || isConcurrentPartitionChange(e)) && plan) return { slow: true, plan };
      await copy?.abort('load failed');
      throw e;
    } finally {
      destroy(stream);
    }
  }

  private async toSlowPass(copy: CopySink | null, plan: ColumnPlan): Promise<Pass> {
    await copy?.abort('the file goes through the staging table');
    return { slow: true, plan };
  }

  /**
   * Deliberately simple schema evolution: the file's new columns become nullable text columns of the table,
   * added by the caller, and their values are loaded as text; nothing infers or changes types later.
   */
  private async addColumns(columns: ContractColumn[]): Promise<void> {
    if (!this.opts.addColumns) throw new Error(`Contract "${this.contract.name}" has drift: add_columns, but the load was given no way to add columns.`);
    for (const c of columns) quoteIdentifier(c.name);
    await this.opts.addColumns(columns, this.client);
  }

  // ---- slow pass ----------------------------------------------------------------------------------------------

  /** COPY into a staging table shaped like the table, then one statement applies the key policy. */
  async slowPass(plan: ColumnPlan): Promise<Outcome> {
    const tally = new RowTally(this.opts);
    const progress = progressEvery(this.opts.onProgress);
    const rows = new RowMaker(plan, this.contract, this.fileId);
    await this.client.query(`DROP TABLE IF EXISTS pg_temp.${STAGE}`);
    await this.client.query(`CREATE TEMP TABLE ${STAGE} (LIKE ${this.table}) ON COMMIT DROP`);
    const copy = new CopySink(this.client, this.copySql(STAGE, plan), { onWait: this.copyWait });
    const stream = this.open();
    try {
      for await (const batch of readRecords(stream, this.contract.format, this.limits)) {
        const rejects = [...batch.rejects];
        let text = '';
        for (const record of batch.records) {
          const row = rows.make(record);
          if ('rule' in row) rejects.push(row);
          else text += row.text;
        }
        tally.addRows(batch.records.length - (rejects.length - batch.rejects.length));
        rejects.sort((a, b) => a.line - b.line);
        if (tally.addRejects(rejects)) {
          await copy.abort('file refused');
          return this.outcome(tally, 0, plan);
        }
        progress(batch.records.length + batch.rejects.length);
        const ended = batch.rejects.find((r) => endsFile(this.contract.format, r));
        if (ended) {
          await copy.abort('file refused');
          return this.endedEarly(tally, ended, plan);
        }
        await copy.write(text);
      }
      await copy.end();
    } catch (e) {
      await copy.abort('load failed');
      throw e;
    } finally {
      destroy(stream);
    }
    if (tally.rejection()) return this.outcome(tally, 0, plan);

    await this.client.query(this.applyPolicySql(plan));
    // Every staged row's key is in the table now: the row is either this one (loaded, now or by an earlier
    // load of this file) or another, which it lost to.
    const matched = `${STAGE} s JOIN ${this.table} t ON ${this.keys.map((k) => `t.${k} = s.${k}`).join(' AND ')}`;
    const lost = `NOT (t.file_id = s.file_id AND t.line = s.line)`;
    const counts = rowsOf<{ lost: number }>(await this.client.query(`SELECT count(*) FILTER (WHERE ${lost})::int AS lost FROM ${matched}`))[0];
    const lostRows = counts?.lost ?? 0;
    if (this.contract.table.onDuplicateKey !== 'reject' || lostRows === 0) return this.outcome(tally, lostRows, plan);

    const found = rowsOf<{ line: number; same_file: boolean; at_file: string; at_line: number; key: string[] }>(
      await this.client.query(
        `SELECT s.line, t.file_id = s.file_id AS same_file, t.file_id::text AS at_file, t.line AS at_line, ARRAY[${this.keys.map((k) => `s.${k}::text`).join(', ')}] AS key
         FROM ${matched} WHERE ${lost} ORDER BY s.line LIMIT ${MAX_ROW_ERRORS}`,
      ),
    );
    const errors = found.map((f) =>
      f.same_file ? duplicateInFile(f.line, f.at_line, showKey(this.contract, f.key), this.contract) : duplicateLoaded(f.line, f.at_file, f.at_line, showKey(this.contract, f.key), this.contract),
    );
    tally.addRows(-lostRows);
    tally.addRejects(errors, lostRows);
    return this.outcome(tally, 0, plan);
  }

  /**
   * The staged rows into the table by the key policy; of the file's own repeats the first line counts
   * (`reject`, `skip`), or the newest by `newest_by` and then the last line (`newest_wins`).
   */
  private applyPolicySql(plan: ColumnPlan): string {
    const columns = copyColumns(plan);
    const list = columns.join(', ');
    const keys = this.keys.join(', ');
    const { onDuplicateKey, newestBy } = this.contract.table;
    switch (onDuplicateKey) {
      case 'reject':
      case 'skip':
        return `INSERT INTO ${this.table} (${list}) SELECT DISTINCT ON (${keys}) ${list} FROM ${STAGE} ORDER BY ${keys}, line ON CONFLICT (${keys}) DO NOTHING`;
      case 'newest_wins': {
        const by = quoteIdentifier(newestBy as string);
        const set = columns.filter((c) => !this.keys.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
        // A value beats none; a tie keeps the row already there, so loading a file again changes nothing.
        return `INSERT INTO ${this.table} AS cur (${list})
          SELECT DISTINCT ON (${keys}) ${list} FROM ${STAGE} ORDER BY ${keys}, ${by} DESC NULLS LAST, line DESC
          ON CONFLICT (${keys}) DO UPDATE SET ${set.join(', ')}
          WHERE cur.${by} < EXCLUDED.${by} OR (cur.${by} IS NULL AND EXCLUDED.${by} IS NOT NULL)`;
      }
    }
  }

  // ---- outcomes -----------------------------------------------------------------------------------------------

  private copySql(target: string, plan: ColumnPlan): string {
    return `COPY ${target} (${copyColumns(plan).join(', ')}) FROM STDIN`;
  }

  private outcome(tally: RowTally, duplicates: number, plan: ColumnPlan | null): Outcome {
    return { slow: false, tally, duplicates, rejection: tally.rejection(), drift: plan?.drift ?? [], fileError: null };
  }

  private refusedForDrift(tally: RowTally, refusal: RejectReason, drift: ColumnDiff[]): Outcome {
    const fileError: RowReject = { line: refusal.line ?? 1, column: null, rule: 'schema_drift', message: refusal.message, value: null, raw: '' };
    return { slow: false, tally, duplicates: 0, rejection: refusal, drift, fileError };
  }

  /** A reject that ends the file (a header it cannot use, CSV it cannot follow, …) refuses all of it: a part is no file. */
  private endedEarly(tally: RowTally, ended: RowReject, plan: ColumnPlan | null): Outcome {
    const rejection: RejectReason = { rule: ended.rule, message: ended.message, line: ended.line, ...(ended.column !== null ? { column: ended.column } : {}) };
    return { slow: false, tally, duplicates: 0, rejection, drift: plan?.drift ?? [], fileError: null };
  }
}

function copyColumns(plan: ColumnPlan): string[] {
  return [...plan.columns.map((c) => c.column.name), 'file_id', 'line'].map(quoteIdentifier);
}
