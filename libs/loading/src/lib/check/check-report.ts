import type { RowReject } from '@sluice/formats';

/** What loading a file would do, as `sluice check` and `POST /check` report it (snake_case: it is printed as JSON). */
export interface CheckReport {
  file: string;
  /** SHA-256 of the content (of a gzip file: of what it unpacks to), as the ledger keeps it. */
  sha256: string | null;
  /** The built-in kind detected, `contract` when a contract takes the file, or null when nothing does. */
  kind: string | null;
  contract: string | null;
  contract_version: string | null;
  /** Records read; null for a kind whose rows the check does not count (see `reason`). */
  rows_total: number | null;
  /** Rows the load would count as loaded (0 when the file would be quarantined). */
  would_load: number | null;
  /** Rows whose key is loaded already (or repeated in the file) and that the load would not write again. */
  duplicate_rows: number | null;
  /** Rejected rows by rule. */
  rejected: Record<string, number>;
  /** A few rejected rows of each rule. */
  samples: CheckSample[];
  /** How the file's columns (or the contract's table) differ from the contract's. */
  drift: unknown[];
  verdict: CheckVerdict;
  /** Why the file would be quarantined or is a duplicate; a note on what was not checked otherwise. */
  reason: string | null;
  /** The ledger id of the live file with the same content, when the verdict is `duplicate`. */
  duplicate_of?: string;
}

export type CheckVerdict = 'load' | 'duplicate' | 'quarantine';

export interface CheckSample {
  rule: string;
  line: number;
  column: string | null;
  value: string | null;
  message: string;
}

/** Sample rows kept per rule. */
export const SAMPLES_PER_RULE = 3;

/** Counts rejects by rule and keeps the first few of each. */
export class RejectCounts {
  readonly byRule: Record<string, number> = {};
  readonly samples: CheckSample[] = [];

  add(rejects: readonly RowReject[]): void {
    for (const r of rejects) this.addOne(r, 1);
  }

  /** `count` rejects of one rule, of which only `shown` are given in detail. */
  addCounted(rule: string, shown: readonly RowReject[], count: number): void {
    this.byRule[rule] = (this.byRule[rule] ?? 0) + count;
    for (const r of shown) this.sample(r);
  }

  private addOne(r: RowReject, n: number): void {
    this.byRule[r.rule] = (this.byRule[r.rule] ?? 0) + n;
    this.sample(r);
  }

  private sample(r: RowReject): void {
    if (this.samples.filter((s) => s.rule === r.rule).length >= SAMPLES_PER_RULE) return;
    this.samples.push({ rule: r.rule, line: r.line, column: r.column, value: r.value, message: r.message });
  }
}

/** A report's exit code for the CLI: 1 when a file would be quarantined. */
export function checkExitCode(reports: readonly CheckReport[]): 0 | 1 {
  return reports.some((r) => r.verdict === 'quarantine') ? 1 : 0;
}
