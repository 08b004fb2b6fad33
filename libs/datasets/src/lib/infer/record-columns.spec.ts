import { findRecordsPath, recordSampleColumns } from './record-columns';

describe('recordSampleColumns', () => {
  it('makes a column of each leaf path, aligned by record', () => {
    const columns = recordSampleColumns([
      { id: 1, meta: { site: 'A' }, tags: ['x'] },
      { id: 2, meta: { site: 'B', depth: 3 } },
      'not a record',
    ]);
    expect(columns).toEqual([
      { source: 'id', samples: [1, 2] },
      { source: 'meta.site', samples: ['A', 'B'] },
      { source: 'tags', samples: [['x'], undefined] },
      { source: 'meta.depth', samples: [undefined, 3] },
    ]);
  });
});

describe('findRecordsPath', () => {
  it('finds the array of records in a document', () => {
    expect(findRecordsPath([{ a: 1 }])).toBe('');
    expect(findRecordsPath({ meta: { n: 1 }, data: { readings: [{ a: 1 }] } })).toBe('data.readings');
    expect(findRecordsPath({ a: 1 })).toBeNull();
  });
});
