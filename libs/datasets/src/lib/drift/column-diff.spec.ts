import { diffColumns, formatDiff, type DiffContract } from './column-diff';

const contract: DiffContract = {
  columns: [
    { source: 'a', name: 'a', type: 'text' },
    { source: 'b', name: 'b', type: 'int' },
    { source: 'c', name: 'c', type: 'float' },
    { source: 'd', name: 'd', type: 'text' },
  ],
};

describe('diffColumns', () => {
  it('finds one added, one removed, one renamed and one type change, and nothing else', () => {
    const diffs = diffColumns(contract, {
      columns: [
        { source: 'a', samples: ['x', 'y'] },
        { source: 'bee', samples: ['1', '2'] },
        { source: 'c', samples: ['1.5', 'n/a', 'oops'] },
        { source: 'e', samples: ['0.5', '1.25'] },
      ],
    });
    expect(diffs).toEqual([
      { change: 'renamed', from: 'b', to: 'bee', name: 'b' },
      { change: 'type_changed', source: 'c', name: 'c', expected: 'float', found: 'text', sample: 'n/a' },
      { change: 'removed', source: 'd', name: 'd' },
      { change: 'added', source: 'e', inferredType: 'float' },
    ]);
    expect(formatDiff(diffs)).toEqual([
      '~ b → bee: renamed',
      '! c: expected float, found text ("n/a")',
      '- d: missing',
      '+ e (float): new column',
    ]);
  });

  it('finds nothing when the file matches', () => {
    const file = { columns: contract.columns.map((c) => ({ source: c.source, samples: c.type === 'text' ? ['x'] : ['1', ''] })) };
    expect(diffColumns(contract, file)).toEqual([]);
  });

  it('does not call a column renamed when its values do not fit, or it stands elsewhere', () => {
    const diffs = diffColumns(contract, {
      columns: [
        { source: 'a', samples: ['x'] },
        { source: 'c', samples: ['1'] },
        { source: 'd', samples: ['x'] },
        { source: 'b2', samples: ['1'] },
      ],
    });
    expect(diffs).toEqual([
      { change: 'removed', source: 'b', name: 'b' },
      { change: 'added', source: 'b2', inferredType: 'int' },
    ]);
  });

  it('reads values as the contract says: decimal commas and timestamp formats', () => {
    const diffs = diffColumns(
      {
        format: { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0 },
        columns: [
          { source: 'Zeit', name: 'zeit', type: 'timestamptz', formats: ['dd.MM.yyyy HH:mm'] },
          { source: 'Temp', name: 'temp', type: 'float' },
        ],
      },
      {
        columns: [
          { source: 'Zeit', samples: ['29.03.2024 10:00', '2024-03-29T10:10:00Z'] },
          { source: 'Temp', samples: ['12,5', '1.234,5'] },
        ],
      },
    );
    expect(diffs).toEqual([
      { change: 'type_changed', source: 'Zeit', name: 'zeit', expected: 'timestamptz', found: 'text', sample: '2024-03-29T10:10:00Z' },
    ]);
  });
});
