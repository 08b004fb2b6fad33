import type { RejectReason } from '@sluice/contracts';
import type { RowReject } from '@sluice/formats';

/** Detailed row errors kept per file; counts stay exact beyond it. */
export const MAX_ROW_ERRORS = 1000;

/** Counts lines and refused lines of one pass over a file, and decides quarantine by policy. */
export class RowTally {
  total = 0;
  bad = 0;
  readonly errors: RowReject[] = [];

  constructor(private readonly policy: { invalidRows: 'skip' | 'reject'; maxInvalidRatio: number; minInvalidRows?: number }) {}

  addRows(n: number): void {
    this.total += n;
  }

  /**
   * Records refused lines; true when the `reject` policy now quarantines the file. `count` is how many lines
   * were refused when only the first of them are given in detail (a set-based pass counts them in SQL).
   */
  addRejects(rejects: readonly RowReject[], count = rejects.length): boolean {
    if (count === 0) return false;
    this.total += count;
    this.bad += count;
    for (const r of rejects) {
      if (this.errors.length >= MAX_ROW_ERRORS) break;
      this.errors.push(r);
    }
    return this.policy.invalidRows === 'reject';
  }

  /** Why the whole file is refused, or null when it loads. */
  rejection(): RejectReason | null {
    if (this.bad === 0) return null;
    const first = this.errors.reduce((a, b) => (b.line < a.line ? b : a));
    const where = { line: first.line, ...(first.column !== null ? { column: first.column } : {}), ...(first.value !== null ? { value: first.value } : {}) };
    // A file of one record (a measurement document) is refused for that record's own reason.
    if (this.total === 1) return { rule: first.rule, message: first.message, ...where };
    if (this.policy.invalidRows === 'reject') {
      return { rule: first.rule, message: `${first.message} (INVALID_ROWS=reject refuses a file with any invalid row)`, ...where };
    }
    const ratio = this.total ? this.bad / this.total : 0;
    // A file of nothing but bad rows is of the wrong shape however small; otherwise the ratio speaks only once
    // enough rows are bad to make it a sign of that (MIN_INVALID_ROWS): one typo in a 10-row sample is a row error.
    if (this.bad < this.total && (ratio <= this.policy.maxInvalidRatio || this.bad < (this.policy.minInvalidRows ?? 0))) return null;
    const pct = (x: number) => `${(x * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
    return {
      rule: 'too_many_invalid_rows',
      message:
        this.bad === this.total
          ? `all ${this.total} rows are invalid; first: ${first.message}`
          : `${this.bad} of ${this.total} rows (${pct(ratio)}) are invalid, more than MAX_INVALID_RATIO ${pct(this.policy.maxInvalidRatio)}; first: ${first.message}`,
      ...where,
    };
  }
}
