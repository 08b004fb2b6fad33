import type { S3Source } from '@sluice/config';
import type { ListedObject } from './s3-object-store';
import { claimableObjects, claimOrder, nextPosition } from './s3-listing.util';

const source: S3Source = { name: 's', region: 'us-east-1', bucket: 'b', prefix: '', pathStyle: true, afterLoad: 'move', moveTo: 'loaded/', quarantineTo: 'quarantine/' };
const obj = (key: string): ListedObject => ({ key, etag: `"${key.length}"`, size: 1 });

describe(claimableObjects.name, () => {
  it('skips folder markers, error reports, partial uploads and the source’s own move and quarantine prefixes', () => {
    const keys = ['timeseries/', 'timeseries/part-0000.csv', 'timeseries/part-0001.csv.error.json', 'timeseries/x.csv.part', 'timeseries/.hidden', 'loaded/timeseries/part-0000.csv', 'quarantine/a.csv', 'mapping/mapping.csv'];
    expect(claimableObjects(source, keys.map(obj)).map((o) => o.key)).toEqual(['timeseries/part-0000.csv', 'mapping/mapping.csv']);
  });
});

describe(claimOrder.name, () => {
  it('puts mappings first and keeps key order otherwise', () => {
    const keys = ['a/part-1.csv', 'mapping/mapping.csv', 'timeseries/part-0.csv', 'other/mapping.csv'];
    expect(claimOrder(keys.map(obj)).map((o) => o.key)).toEqual(['mapping/mapping.csv', 'other/mapping.csv', 'a/part-1.csv', 'timeseries/part-0.csv']);
  });
});

describe(nextPosition.name, () => {
  it('continues after the last key of a truncated page, in the same pass', () => {
    expect(nextPosition({ startAfter: null, generation: 3 }, { objects: [obj('a'), obj('b')], truncated: true })).toEqual({ startAfter: 'b', generation: 3 });
  });

  it('starts a new pass after the last page', () => {
    expect(nextPosition({ startAfter: 'b', generation: 3 }, { objects: [obj('c')], truncated: false })).toEqual({ startAfter: null, generation: 4 });
    expect(nextPosition({ startAfter: 'c', generation: 4 }, { objects: [], truncated: false })).toEqual({ startAfter: null, generation: 5 });
  });
});
