import { TERMINAL_STATUSES } from '@sluice/contracts';

/** What one retention sweep removed (or, with `dryRun`, would remove). */
export interface SweepResult {
  /** Files, bodies or ledger rows. */
  items: number;
  /** Bytes they held (files with their error.json, bodies); see each sweep. */
  bytes: number;
  /** A few of their names, for a report. */
  examples: string[];
}

export interface SweepOptions {
  /** Count what would go and change nothing (no file, body or row). */
  dryRun?: boolean;
  /** At most this many items in this call (default: all past the horizon); call again for more. */
  limit?: number;
}

/** A sweep: removes what finished before `horizon`. */
export type Sweep = (horizon: Date, opts?: SweepOptions) => Promise<SweepResult>;

/** Names kept in SweepResult.examples. */
export const SWEEP_EXAMPLES = 5;
/** Rows one statement (or one transaction of file removals) takes at most, so that a sweep never holds a long lock. */
export const SWEEP_BATCH = 1000;

/** The horizon of a retention period: `now - ms`; null when the period is unset (keep for ever). */
export function retentionHorizon(ms: number | undefined, now: Date = new Date()): Date | null {
  return ms === undefined ? null : new Date(now.getTime() - ms);
}

/** Where a walk over `(finished_at, id)` starts: before every row. */
export const WALK_START = { finishedAt: '-infinity', id: '00000000-0000-0000-0000-000000000000' } as const;

/**
 * `(finished_at, id)` of the row `alias` past a walk's position (`a`: finished_at as text, `b`: id). The plain
 * `finished_at >=` lets an index on finished_at start the scan there; the row comparison settles ties.
 */
export const PAST = (a: string, b: string, alias = '') =>
  `${alias}finished_at >= ${a}::timestamptz AND (${alias}finished_at, ${alias}id) > (${a}::timestamptz, ${b}::uuid)`;

/** `status IN (…)` of the terminal statuses, as SQL. */
export const TERMINAL_SQL = `(${TERMINAL_STATUSES.map((s) => `'${s}'`).join(',')})`;

/** Adds up one batch into a result. */
export class SweepTally implements SweepResult {
  items = 0;
  bytes = 0;
  examples: string[] = [];

  add(name: string, bytes: number): void {
    this.items += 1;
    this.bytes += bytes;
    if (this.examples.length < SWEEP_EXAMPLES) this.examples.push(name);
  }

  /** Rows this call may still take in its next batch (0: its limit is reached). */
  room(limit: number | undefined): number {
    return Math.max(0, Math.min(SWEEP_BATCH, (limit ?? Number.POSITIVE_INFINITY) - this.items));
  }

  result(): SweepResult {
    return { items: this.items, bytes: this.bytes, examples: [...this.examples] };
  }
}
