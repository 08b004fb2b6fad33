import type { ContractInputs, ContractVersion } from '../contract';
import { contractsTaking, takes } from './contracts-taking';

const version = (name: string, inputs: ContractInputs): ContractVersion =>
  ({ contract: { name, inputs } as ContractVersion['contract'], hash: 'a'.repeat(64), text: '', file: `${name}.yaml` });

describe('takes', () => {
  const weather = version('weather', { glob: 'weather_*.csv' });

  it('matches a glob against the file name, not its folders', () => {
    expect(takes(weather, { source: 'dropzone', path: 'weather_2024-03-31.csv' })).toBe(true);
    expect(takes(weather, { source: 'dropzone', path: 'site-a/weather_2024-03-31.csv' })).toBe(true);
    expect(takes(weather, { source: 'dropzone', path: 'weather/readings.csv' })).toBe(false);
    expect(takes(weather, { source: 'api', path: 'weather_1.csv' })).toBe(true);
    expect(takes(weather, { source: 's3', s3Source: 'lake', key: 'exports/weather_1.csv' })).toBe(true);
  });

  it('takes the files of a folder of incoming/ by its first folder, and with a glob only those the glob takes too', () => {
    const byFolder = version('orders', { folder: 'orders' });
    expect(takes(byFolder, { source: 'dropzone', path: 'orders/a.ndjson' })).toBe(true);
    expect(takes(byFolder, { source: 'dropzone', path: 'orders/2024/a.ndjson' })).toBe(true);
    expect(takes(byFolder, { source: 'dropzone', path: 'a.ndjson' })).toBe(false);
    expect(takes(byFolder, { source: 'dropzone', path: 'other/orders/a.ndjson' })).toBe(false);
    expect(takes(byFolder, { source: 's3', s3Source: 'lake', key: 'orders/a.ndjson' })).toBe(false);
    expect(takes(byFolder, { source: 'api', path: 'a.ndjson' })).toBe(false);
    const both = version('orders', { folder: 'orders', glob: '*.ndjson' });
    expect(takes(both, { source: 'dropzone', path: 'orders/a.ndjson' })).toBe(true);
    expect(takes(both, { source: 'dropzone', path: 'orders/a.csv' })).toBe(false);
  });

  it('takes objects of its S3 source under its prefix only', () => {
    const meters = version('meters', { s3: { source: 'lake', prefix: 'meters/' } });
    expect(takes(meters, { source: 's3', s3Source: 'lake', key: 'meters/2024/x.json' })).toBe(true);
    expect(takes(meters, { source: 's3', s3Source: 'other', key: 'meters/x.json' })).toBe(false);
    expect(takes(meters, { source: 's3', s3Source: 'lake', key: 'weather/x.json' })).toBe(false);
    expect(takes(meters, { source: 'dropzone', path: 'meters/x.json' })).toBe(false);
  });

  it('takes a body by the kind it names, and nothing else by kind', () => {
    const orders = version('orders', { kind: 'order' });
    expect(takes(orders, { source: 'api', path: 'x.json', kind: 'order' })).toBe(true);
    expect(takes(orders, { source: 'api', path: 'x.json', kind: 'refund' })).toBe(false);
    expect(takes(orders, { source: 'api', path: 'x.json' })).toBe(false);
    expect(takes(weather, { source: 'api', path: 'weather_1.csv', kind: 'weather' })).toBe(false);
  });
});

describe('contractsTaking', () => {
  it('lists every contract that takes the input, by name', () => {
    const all = [version('b', { glob: '*.csv' }), version('a', { glob: 'x*.csv' }), version('c', { glob: '*.json' })];
    expect(contractsTaking(all, { source: 'dropzone', path: 'x1.csv' }).map((v) => v.contract.name)).toEqual(['a', 'b']);
    expect(contractsTaking(all, { source: 'dropzone', path: 'y.txt' })).toEqual([]);
  });
});
