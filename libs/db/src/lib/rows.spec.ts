import { rowsOf } from './rows';

describe(rowsOf.name, () => {
  it('reads the rows of every result shape', () => {
    expect(rowsOf([{ a: 1 }])).toEqual([{ a: 1 }]);
    expect(rowsOf([[{ a: 1 }], 1])).toEqual([{ a: 1 }]);
    expect(rowsOf({ rows: [{ a: 1 }], rowCount: 1 })).toEqual([{ a: 1 }]);
    expect(rowsOf({ rowCount: 0 })).toEqual([]);
    expect(rowsOf(null)).toEqual([]);
  });
});
