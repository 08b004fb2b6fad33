import { addRows, type RejectReason, type RowsByTable } from '@sluice/contracts';
import { rowsOf } from '@sluice/db';
import { cap, formatPath, lateProblem, parseIsoTimestamp, RAW_CAP, ZonedTime, type DocumentProblem, type JsonPath, type RawLine, type RowReject } from '@sluice/formats';
import type { PoolClient } from 'pg';
import type { LoadOptions, LoadResult } from '../kind-loader';
import { CREATED_AT_US } from '../ledger.repository';
import { writeRowErrors } from '../sensor/ingest-errors.writer';
import { RowTally } from '../sensor/row-tally';
import type { FileOrder } from './record-sinks';
import { PROGRESS_EVERY } from '../load-stream';

const SAVEPOINT = 'sluice_record_load';

/** What a record loader's body ends with: rows written per table, or a reason that refuses the whole file. */
export type BodyOutcome = { written: RowsByTable } | { fileRejection: RejectReason } | { stopped: true };

/** Counts records and refusals of one file; `reject` returns true when INVALID_ROWS=reject stops the file. */
export class RecordCounter {
  readonly tally: RowTally;
  private since = 0;

  constructor(private readonly opts: LoadOptions) {
    this.tally = new RowTally(opts);
  }

  good(): void {
    this.tally.addRows(1);
    this.tick();
  }

  reject(r: RowReject): boolean {
    this.tick();
    return this.tally.addRejects([r]);
  }

  private tick(): void {
    if (++this.since >= PROGRESS_EVERY) {
      this.since = 0;
      this.opts.onProgress?.();
    }
  }
}

/**
 * The frame every record loader runs in: earlier attempts' errors replaced, work inside a savepoint that
 * is rolled back when the file is refused (by a file-level reason or by the INVALID_ROWS policy), row
 * errors written in one statement.
 */
export async function runRecordLoad(client: PoolClient, fileId: string, opts: LoadOptions, body: (counter: RecordCounter) => Promise<BodyOutcome>): Promise<LoadResult> {
  await client.query(`DELETE FROM ingest_errors WHERE file_id = $1`, [fileId]);
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  const counter = new RecordCounter(opts);
  let outcome: BodyOutcome;
  try {
    outcome = await body(counter);
  } catch (e) {
    await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    throw e;
  }
  const { result, errors } = settleLoad(counter.tally, outcome);
  if (result.rejection) await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
  await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  await writeRowErrors(client, fileId, errors);
  return result;
}

/**
 * A record load's result from its tally and how its body ended, with the row errors to record: a refused
 * file loads nothing and records its reason; otherwise the INVALID_ROWS policy decides.
 */
export function settleLoad(tally: RowTally, outcome: BodyOutcome): { result: LoadResult; errors: RowReject[] } {
  if ('fileRejection' in outcome) {
    const r = outcome.fileRejection;
    return {
      result: { rowsTotal: tally.total, rowsLoaded: 0, rowsRejected: tally.bad, rowsWritten: {}, rejection: r },
      errors: [{ line: r.line ?? 1, column: r.column ?? null, rule: r.rule as RowReject['rule'], message: r.message, value: r.value ?? null, raw: r.value ?? '' }],
    };
  }
  const rejection = tally.rejection();
  return {
    result: {
      rowsTotal: tally.total,
      rowsLoaded: rejection ? 0 : tally.total - tally.bad,
      rowsRejected: tally.bad,
      rowsWritten: rejection || !('written' in outcome) ? {} : addRows(outcome.written),
      rejection,
    },
    errors: [...tally.errors],
  };
}

/** The file's place in arrival order (ledger created_at), stored on latest-state rows as the tie-break. */
export async function fileOrder(client: PoolClient, fileId: string): Promise<FileOrder> {
  const rows = rowsOf<{ created_at: string }>(await client.query(`SELECT ${CREATED_AT_US} AS created_at FROM ingest_files WHERE id = $1`, [fileId]));
  if (!rows[0]) throw new Error(`file ${fileId} is not in the ledger`);
  return { fileId, createdAt: rows[0].created_at };
}

/**
 * One refused item or line: its first problem (with the field path as column) and how many more there
 * are. `line` may be filled in later (documents resolve the lines of all their refused items in one scan).
 */
export function itemReject(problems: readonly DocumentProblem[], item: unknown, line = 0): RowReject {
  const p = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).map((x) => x.field).join(', ')}${problems.length > 4 ? ', …' : ''})` : '';
  return { line, column: p.field || null, rule: p.rule, message: `${p.message}${more}`, value: p.value, raw: rawOf(item) };
}

/** The row error of a line the line reader could not give as text: longer than MAX_LINE_BYTES, or not UTF-8. */
export function unreadableLine(raw: Extract<RawLine, { error: string }>, maxLineBytes: number): RowReject {
  const message =
    raw.error === 'line_too_long'
      ? `line ${raw.line}: the line has ${raw.bytes} bytes; a line may have at most ${maxLineBytes} (MAX_LINE_BYTES)`
      : `line ${raw.line}: byte ${raw.byteOffset} of the line starts an invalid UTF-8 sequence; save the file as UTF-8`;
  return { line: raw.line, column: null, rule: raw.error, message, value: null, raw: '' };
}

/** Sets the line of a refused record and prefixes its message with it. */
export function placeReject(r: RowReject, line: number): void {
  r.line = line;
  r.message = `line ${line}: ${r.message}`;
}

/** The record as JSON text for ingest_errors.raw, capped; long arrays are cut before stringifying. */
export function rawOf(item: unknown): string {
  const shrink = (v: unknown, depth: number): unknown => {
    if (Array.isArray(v)) return v.slice(0, 20).map((x) => shrink(x, depth + 1));
    if (v && typeof v === 'object' && depth < 4) return Object.fromEntries(Object.entries(v).slice(0, 20).map(([k, x]) => [k, shrink(x, depth + 1)]));
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    return v;
  };
  try {
    return cap(JSON.stringify(shrink(item, 0)) ?? '', RAW_CAP);
  } catch {
    return '';
  }
}

const UTC = new ZonedTime('UTC');
/** The time field of the records that go to a time-partitioned table under RAW_RETENTION. */
const TIME_FIELD: Record<string, string> = { sensor_reading: 'ts', detection: 'detection_time', detections: 'detection_time' };

/**
 * A valid record (NDJSON line of `kind`, or item of a document of `kind`, at `path`) whose time is older than
 * RAW_RETENTION keeps: its problem (rule late_beyond_retention, on the time field), or null.
 */
export function lateRecordProblem(kind: string, record: unknown, path: JsonPath, opts: LoadOptions): DocumentProblem | null {
  const notBefore = opts.notBefore?.rawMicros;
  const field = TIME_FIELD[kind];
  if (notBefore === undefined || field === undefined) return null;
  const text = (record as Record<string, unknown>)[field];
  if (typeof text !== 'string') return null;
  const us = parseIsoTimestamp(text, UTC);
  if (!(us < notBefore)) return null;
  const at = [...path, field];
  const name = formatPath(at);
  const p = lateProblem(name, us, notBefore, 'RAW_RETENTION');
  return { path: at, field: name, rule: p.rule as DocumentProblem['rule'], message: p.message, value: cap(JSON.stringify(text), RAW_CAP) };
}
