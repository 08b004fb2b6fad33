import { quoteIdentifier, type RejectReason } from '@sluice/contracts';
import { readRecords, type ColumnDiff, type Contract, type RecordLimits } from '@sluice/datasets';
import { rowsOf } from '@sluice/db';
import { DEFAULT_MAX_CSV_COLUMNS, type RowReject } from '@sluice/formats';
import type { PoolClient } from 'pg';
import { DEFAULT_MAX_LINE_BYTES } from '../json/ndjson.loader';
import type { LoadOptions } from '../kind-loader';
import { destroy } from '../load-stream';
import { MAX_ROW_ERRORS, RowTally } from '../sensor/row-tally';
import { MAX_MEMORY_KEYS } from '../contract/contract.loader';
import { planColumns, type ColumnPlan } from '../contract/column-plan';
import { duplicateInFile, duplicateLoaded, endsFile, RowMaker, showKey } from '../contract/contract-rows';
import { RejectCounts } from './check-report';
import { keyValues, SQL_TYPES } from './copy-key';

/** What checking a file against a contract found: the counts ContractLoader.load would return. */
export interface ContractCheckResult {
  rowsTotal: number;
  wouldLoad: number;
  duplicates: number;
  rejects: RejectCounts;
  rejection: RejectReason | null;
  drift: ColumnDiff[];
  /** The file had more keys than the check holds in memory: repeats of a key within the file past them were not counted. */
  keysBeyondMemory: boolean;
}

/** Rows looked up in the table per statement. */
const LOOKUP_BATCH = 5000;
/** A fileId for RowMaker: the COPY text it makes is never sent anywhere. */
const NO_FILE = '00000000-0000-0000-0000-000000000000';

interface Outcome {
  tally: RowTally;
  duplicates: number;
  rejection: RejectReason | null;
  drift: ColumnDiff[];
}

/**
 * ContractLoader.load's decisions, made with SELECTs only: the same two passes (the slow one when a key is loaded
 * already, the file repeats a key under newest_wins, or it has more keys than memory holds), the same key policy,
 * the same INVALID_ROWS and MAX_INVALID_RATIO verdicts. `tableExists` false: no key is loaded yet.
 */
export async function checkContractFile(client: PoolClient, contract: Contract, schema: string, tableExists: boolean, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<ContractCheckResult> {
  const check = new ContractFileCheck(client, contract, schema, tableExists, open, opts);
  const fast = await check.fastPass();
  const outcome = fast === 'slow' ? await check.slowPass() : fast;
  const { tally, rejection } = outcome;
  return {
    rowsTotal: tally.total,
    wouldLoad: rejection ? 0 : tally.total - tally.bad - outcome.duplicates,
    duplicates: rejection ? 0 : outcome.duplicates,
    rejects: check.counts,
    rejection,
    drift: outcome.drift,
    keysBeyondMemory: check.keysBeyondMemory,
  };
}

interface KeyState {
  firstLine: number;
  lines: number[];
  /** The loaded row with this key, if any. */
  loaded: { file: string; line: number } | null;
  /** newest_wins: whether a row of the file is newer than the loaded one. */
  beats: boolean;
}

class ContractFileCheck {
  counts = new RejectCounts();
  /** Keys are held in memory up to MAX_MEMORY_KEYS, as the load holds them; past that only the table is asked. */
  keysBeyondMemory = false;
  private readonly table: string;
  private readonly limits: RecordLimits;

  constructor(
    private readonly client: PoolClient,
    private readonly contract: Contract,
    schema: string,
    private readonly tableExists: boolean,
    private readonly open: () => NodeJS.ReadableStream,
    private readonly opts: LoadOptions,
  ) {
    this.table = `${quoteIdentifier(schema)}.${quoteIdentifier(contract.table.name)}`;
    this.limits = {
      maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      maxColumns: opts.maxCsvColumns ?? DEFAULT_MAX_CSV_COLUMNS,
      maxJsonDepth: opts.maxJsonDepth,
      maxDocumentBytes: opts.maxJsonDocumentBytes,
    };
  }

  /** ContractLoader's fast pass; 'slow' where it would take the slow pass (a loaded key stands for its unique violation). */
  async fastPass(): Promise<Outcome | 'slow'> {
    this.counts = new RejectCounts();
    const tally = new RowTally(this.opts);
    const policy = this.contract.table.onDuplicateKey;
    const seen = new Map<string, number>();
    let plan: ColumnPlan | null = null;
    let rows: RowMaker | null = null;
    let duplicates = 0;
    const stream = this.open();
    try {
      for await (const batch of readRecords(stream, this.contract.format, this.limits)) {
        if (!plan && (batch.header || batch.records.length)) {
          const planned = planColumns(this.contract, batch);
          if ('refusal' in planned) return this.refusedForDrift(tally, planned.refusal, planned.drift);
          plan = planned;
          rows = new RowMaker(plan, this.contract, NO_FILE);
        }
        const rejects = [...batch.rejects];
        const fresh: string[] = [];
        let good = 0;
        for (const record of batch.records) {
          const row = (rows as RowMaker).make(record);
          if ('rule' in row) {
            rejects.push(row);
            continue;
          }
          const earlier = seen.get(row.key);
          if (earlier === undefined) {
            if (seen.size < MAX_MEMORY_KEYS) seen.set(row.key, record.line);
            else this.keysBeyondMemory = true;
            fresh.push(row.key);
            good++;
          } else if (policy === 'reject') {
            rejects.push(duplicateInFile(record.line, earlier, showKey(this.contract, row.key.split('\t')), this.contract));
          } else if (policy === 'skip') {
            duplicates++;
            good++;
          } else return 'slow';
        }
        tally.addRows(good);
        rejects.sort((a, b) => a.line - b.line);
        this.counts.add(rejects);
        if (tally.addRejects(rejects)) return this.outcome(tally, duplicates, plan);
        const ended = batch.rejects.find((r) => endsFile(this.contract.format, r));
        if (ended) return this.endedEarly(tally, ended, plan);
        if (fresh.length && (await this.lookUp(fresh.map((key) => ({ key, newest: null })))).some((f) => f.loaded)) return 'slow';
      }
      return this.outcome(tally, duplicates, plan);
    } finally {
      destroy(stream);
    }
  }

  /** ContractLoader's slow pass: every row read, then the key policy applied to the file's rows and the loaded ones. */
  async slowPass(): Promise<Outcome> {
    this.counts = new RejectCounts();
    const tally = new RowTally(this.opts);
    const { onDuplicateKey, newestBy } = this.contract.table;
    const newestAt = newestBy === undefined ? -1 : this.contract.columns.findIndex((c) => c.name === newestBy);
    const keys = new Map<string, KeyState>();
    // Rows whose key memory could not hold are judged against the table alone, as they are read.
    let lostBeyond = 0;
    const errorsBeyond: RowReject[] = [];
    let plan: ColumnPlan | null = null;
    let rows: RowMaker | null = null;
    const stream = this.open();
    try {
      for await (const batch of readRecords(stream, this.contract.format, this.limits)) {
        if (!plan && (batch.header || batch.records.length)) {
          const planned = planColumns(this.contract, batch);
          if ('refusal' in planned) return this.refusedForDrift(tally, planned.refusal, planned.drift);
          plan = planned;
          rows = new RowMaker(plan, this.contract, NO_FILE);
        }
        const rejects = [...batch.rejects];
        const made: Array<{ key: string; line: number; newest: string | null }> = [];
        for (const record of batch.records) {
          const row = (rows as RowMaker).make(record);
          if ('rule' in row) rejects.push(row);
          else made.push({ key: row.key, line: record.line, newest: newestAt < 0 ? null : copyField(row.text, newestAt) });
        }
        tally.addRows(made.length);
        rejects.sort((a, b) => a.line - b.line);
        this.counts.add(rejects);
        if (tally.addRejects(rejects)) return this.outcome(tally, 0, plan);
        const ended = batch.rejects.find((r) => endsFile(this.contract.format, r));
        if (ended) return this.endedEarly(tally, ended, plan);
        const found = await this.lookUp(made);
        made.forEach((m, i) => {
          let state = keys.get(m.key);
          if (!state && keys.size >= MAX_MEMORY_KEYS) {
            this.keysBeyondMemory = true;
            const { loaded, beats } = found[i];
            if (!loaded || (onDuplicateKey === 'newest_wins' && beats)) return;
            lostBeyond++;
            if (onDuplicateKey === 'reject' && errorsBeyond.length < MAX_ROW_ERRORS) {
              errorsBeyond.push(duplicateLoaded(m.line, loaded.file, loaded.line, showKey(this.contract, m.key.split('\t')), this.contract));
            }
            return;
          }
          if (!state) keys.set(m.key, (state = { firstLine: m.line, lines: [], loaded: null, beats: false }));
          state.lines.push(m.line);
          state.loaded ??= found[i].loaded;
          state.beats ||= found[i].beats;
        });
      }
    } finally {
      destroy(stream);
    }
    if (tally.rejection()) return this.outcome(tally, 0, plan);

    let lost = lostBeyond;
    const errors: RowReject[] = errorsBeyond;
    for (const [key, s] of keys) {
      const beaten = s.loaded !== null && !(onDuplicateKey === 'newest_wins' && s.beats);
      lost += beaten ? s.lines.length : s.lines.length - 1;
      if (onDuplicateKey !== 'reject') continue;
      const shown = showKey(this.contract, key.split('\t'));
      for (const line of s.lines) {
        if (s.loaded) errors.push(duplicateLoaded(line, s.loaded.file, s.loaded.line, shown, this.contract));
        else if (line !== s.firstLine) errors.push(duplicateInFile(line, s.firstLine, shown, this.contract));
      }
    }
    if (onDuplicateKey !== 'reject' || lost === 0) return this.outcome(tally, lost, plan);
    errors.sort((a, b) => a.line - b.line);
    const shown = errors.slice(0, MAX_ROW_ERRORS);
    this.counts.addCounted('duplicate_key', shown, lost);
    tally.addRows(-lost);
    tally.addRejects(shown, lost);
    return this.outcome(tally, 0, plan);
  }

  /**
   * Which of the rows' keys are in the table (and, under newest_wins, whether the row's newest_by beats the loaded
   * row's as the load's upsert compares them), one SELECT per LOOKUP_BATCH rows.
   */
  private async lookUp(rows: ReadonlyArray<{ key: string; newest: string | null }>): Promise<Array<{ loaded: { file: string; line: number } | null; beats: boolean }>> {
    const out = rows.map(() => ({ loaded: null as { file: string; line: number } | null, beats: false }));
    if (!this.tableExists || rows.length === 0) return out;
    const keyColumns = this.contract.table.key.map((name) => this.contract.columns.find((c) => c.name === name));
    if (keyColumns.some((c) => c === undefined)) throw new Error(`Contract "${this.contract.name}": a key column is not one of its columns.`);
    const newestBy = this.contract.table.newestBy;
    const newestColumn = this.contract.table.onDuplicateKey === 'newest_wins' ? this.contract.columns.find((c) => c.name === newestBy) : undefined;
    const names = keyColumns.map((_, i) => `k${i}`);
    const join = keyColumns.map((c, i) => `t.${quoteIdentifier(c?.name as string)} = u.${names[i]}::${SQL_TYPES[c?.type ?? 'text']}`).join(' AND ');
    const beats = newestColumn
      ? (() => {
          const by = `t.${quoteIdentifier(newestColumn.name)}`;
          const mine = `u.nb::${SQL_TYPES[newestColumn.type]}`;
          return `(${by} < ${mine} OR (${by} IS NULL AND ${mine} IS NOT NULL))`;
        })()
      : 'false';
    for (let from = 0; from < rows.length; from += LOOKUP_BATCH) {
      const part = rows.slice(from, from + LOOKUP_BATCH);
      const values = part.map((r) => keyValues(r.key));
      const params: unknown[] = [part.map((_, i) => from + i), ...names.map((_, k) => values.map((v) => v[k])), part.map((r) => (r.newest === null ? null : keyValues(r.newest)[0]))];
      const unnest = `unnest($1::int[], ${names.map((_, k) => `$${k + 2}::text[]`).join(', ')}, $${names.length + 2}::text[]) AS u(i, ${names.join(', ')}, nb)`;
      const found = rowsOf<{ i: number; file: string; line: number; beats: boolean }>(
        await this.client.query(`SELECT u.i, t.file_id::text AS file, t.line, ${beats} AS beats FROM ${unnest} JOIN ${this.table} t ON ${join}`, params),
      );
      for (const f of found) out[f.i] = { loaded: { file: f.file, line: f.line }, beats: f.beats === true };
    }
    return out;
  }

  private outcome(tally: RowTally, duplicates: number, plan: ColumnPlan | null): Outcome {
    return { tally, duplicates, rejection: tally.rejection(), drift: plan?.drift ?? [] };
  }

  private refusedForDrift(tally: RowTally, refusal: RejectReason, drift: ColumnDiff[]): Outcome {
    return { tally, duplicates: 0, rejection: refusal, drift };
  }

  private endedEarly(tally: RowTally, ended: RowReject, plan: ColumnPlan | null): Outcome {
    const rejection: RejectReason = { rule: ended.rule, message: ended.message, line: ended.line, ...(ended.column !== null ? { column: ended.column } : {}) };
    return { tally, duplicates: 0, rejection, drift: plan?.drift ?? [] };
  }
}

/** Field `index` of one COPY line (still escaped), or null for `\N`. */
function copyField(line: string, index: number): string | null {
  const field = line.split('\t')[index];
  return field === undefined || field === '\\N' ? null : field;
}
