import type { RowReject } from '@sluice/formats';
import { RowTally } from './row-tally';

const reject = (line: number): RowReject => ({ line, column: 'temp', rule: 'not_a_number', message: `line ${line}: temp "x" is not a finite number`, value: 'x', raw: 'x' });

/** A file of `good` good rows and `bad` bad ones, tallied under the default policy (5 %, at least 10 bad rows). */
function tally(good: number, bad: number, policy: ConstructorParameters<typeof RowTally>[0] = { invalidRows: 'skip', maxInvalidRatio: 0.05, minInvalidRows: 10 }): RowTally {
  const t = new RowTally(policy);
  t.addRows(good);
  t.addRejects(Array.from({ length: bad }, (_, i) => reject(good + i + 2)));
  return t;
}

describe('RowTally', () => {
  it('loads a 10-row file with one bad row: 9 rows and a row error, not a quarantine', () => {
    const t = tally(9, 1);
    expect(t.rejection()).toBeNull();
    expect([t.total, t.bad, t.errors.length]).toEqual([10, 1, 1]);
  });

  it('quarantines by MAX_INVALID_RATIO once MIN_INVALID_ROWS rows are bad', () => {
    expect(tally(90, 9).rejection()).toBeNull();
    expect(tally(90, 10).rejection()).toMatchObject({ rule: 'too_many_invalid_rows', message: expect.stringContaining('10 of 100 rows (10%) are invalid, more than MAX_INVALID_RATIO 5%') });
    expect(tally(1000, 40).rejection()).toBeNull();
  });

  it('quarantines a file of nothing but bad rows, however few', () => {
    expect(tally(0, 3).rejection()).toMatchObject({ rule: 'too_many_invalid_rows', message: expect.stringMatching(/^all 3 rows are invalid; first: line 2: /), line: 2 });
  });

  it('without MIN_INVALID_ROWS the ratio alone decides, and INVALID_ROWS=reject refuses any bad row', () => {
    expect(tally(9, 1, { invalidRows: 'skip', maxInvalidRatio: 0.05, minInvalidRows: 0 }).rejection()).toMatchObject({ rule: 'too_many_invalid_rows' });
    expect(tally(99, 1, { invalidRows: 'reject', maxInvalidRatio: 0.05, minInvalidRows: 10 }).rejection()).toMatchObject({ rule: 'not_a_number' });
  });
});
