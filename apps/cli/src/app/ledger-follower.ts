import { addRows, describeRows, readingsOf, totalRows, type RowsByTable } from '@sluice/contracts';
import { SingleBar } from 'cli-progress';
import type { DataSource } from 'typeorm';
import { type CliIo, formatCount, renderTable } from './output';
import { ROWS_WRITTEN_SUMS, rowsWrittenLines, rowsWrittenOf } from './rows-written';

export interface LedgerTally {
  files: number;
  terminal: number;
  bytes: number;
  terminalBytes: number;
  byStatus: Record<string, number>;
  /** Sensor readings written: rows of raw_sensor_data. */
  readingsLoaded: number;
  /** Rows written per data table (tables with none left out). */
  rowsWrittenByTable: RowsByTable;
  rowsRejected: number;
}

/** Status counts and row sums of a set of ledger rows. */
export async function tally(ds: DataSource, ids: string[]): Promise<LedgerTally> {
  const rows: ({ status: string; n: number; bytes: string; rejected: string } & Record<string, unknown>)[] = await ds.query(
    `SELECT status, count(*)::int AS n, coalesce(sum(size_bytes), 0)::text AS bytes, coalesce(sum(rows_rejected), 0)::text AS rejected, ${ROWS_WRITTEN_SUMS}
       FROM ingest_files WHERE id = ANY($1::uuid[]) GROUP BY status`,
    [ids],
  );
  const t: LedgerTally = { files: 0, terminal: 0, bytes: 0, terminalBytes: 0, byStatus: {}, readingsLoaded: 0, rowsWrittenByTable: {}, rowsRejected: 0 };
  for (const r of rows) {
    const done = r.status !== 'queued' && r.status !== 'processing';
    t.files += r.n;
    t.bytes += Number(r.bytes);
    if (done) {
      t.terminal += r.n;
      t.terminalBytes += Number(r.bytes);
    }
    t.byStatus[r.status] = r.n;
    t.rowsWrittenByTable = addRows(t.rowsWrittenByTable, rowsWrittenOf(r));
    t.rowsRejected += Number(r.rejected);
  }
  t.readingsLoaded = readingsOf(t.rowsWrittenByTable);
  return t;
}

export interface FollowOptions {
  /** Called when nothing has changed for `stallMs`; return false to give up. */
  onStall: (t: LedgerTally) => Promise<boolean>;
  stallMs: number;
  pollMs?: number;
}

/**
 * Follows ledger rows until every one is terminal, with a progress bar over their bytes (files, the readings
 * and other rows written by table, rate and ETA in the line). Returns the last tally; `complete` is false when it gave up on a stall.
 */
export async function followLedger(ds: DataSource, ids: string[], io: CliIo, opts: FollowOptions): Promise<{ tally: LedgerTally; complete: boolean; ms: number }> {
  const started = Date.now();
  let t = await tally(ds, ids);
  const bar = new SingleBar(
    {
      format: '{bar} {percentage}% | {done}/{files} files | {written} | {rate} | ETA {left}',
      stream: io.err as NodeJS.WriteStream,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      hideCursor: true,
      etaBuffer: 20,
      barsize: 24,
    },
  );
  // Progress counts bytes, and each file as one more unit: a file of 0 bytes (or files all of that kind) still
  // moves the bar to 100 % when it finishes.
  const total = (x: LedgerTally) => x.bytes + ids.length;
  const done = (x: LedgerTally) => x.terminalBytes + x.terminal;
  const payload = (x: LedgerTally) => {
    const elapsedS = Math.max(0.001, (Date.now() - started) / 1000);
    const remaining = total(x) - done(x);
    const eta = remaining <= 0 ? '0s' : done(x) === 0 ? '--' : formatDuration((remaining * elapsedS) / done(x));
    // Readings and their rate while readings are all there is; once other tables have rows, every row and rows/s.
    const all = totalRows(x.rowsWrittenByTable);
    const rate = all === x.readingsLoaded ? `${formatCount(Math.round(x.readingsLoaded / elapsedS))} readings/s` : `${formatCount(Math.round(all / elapsedS))} rows/s`;
    return { done: formatCount(x.terminal), files: formatCount(ids.length), written: describeRows(x.rowsWrittenByTable, formatCount, '0 readings'), rate, left: eta };
  };
  bar.start(total(t), done(t), payload(t));
  // Ctrl-C stops following, not loading: what is enqueued is in the ledger and finishes on its own.
  const onInterrupt = () => {
    bar.stop();
    io.err.write('\ninterrupted: the files already enqueued keep loading; follow them with `sluice status`\n');
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let lastChange = Date.now();
  let complete = true;
  try {
    while (t.terminal < ids.length) {
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
      const next = await tally(ds, ids);
      const changed =
        next.terminal !== t.terminal || totalRows(next.rowsWrittenByTable) !== totalRows(t.rowsWrittenByTable) || (next.byStatus['processing'] ?? 0) !== (t.byStatus['processing'] ?? 0);
      t = next;
      bar.setTotal(total(t));
      bar.update(done(t), payload(t));
      if (changed) lastChange = Date.now();
      else if (Date.now() - lastChange >= opts.stallMs) {
        if (!(await opts.onStall(t))) {
          complete = false;
          break;
        }
        lastChange = Date.now();
      }
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    bar.stop();
  }
  return { tally: t, complete, ms: Date.now() - started };
}

/** The closing table: files per status, readings loaded, the rows of each other table that has any, lines rejected. */
export function renderSummary(t: LedgerTally, extra: [string, string][] = []): string {
  const order = ['processed', 'duplicate', 'quarantined', 'failed', 'queued', 'processing'];
  const rows: [string, string][] = order.filter((s) => t.byStatus[s]).map((s) => [s, formatCount(t.byStatus[s])]);
  rows.push(['files', formatCount(t.files)], ...rowsWrittenLines(t.rowsWrittenByTable, formatCount), ['lines rejected', formatCount(t.rowsRejected)], ...extra);
  return renderTable(['', 'count'], rows) + '\n';
}

/** `45s`, `3m05s`, `1h02m`: an ETA for a person. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
