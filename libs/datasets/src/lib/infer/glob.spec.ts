import { globFromFileName } from './glob';

describe('globFromFileName', () => {
  it.each([
    ['weather_2024-03-29.csv', 'weather_*.csv'],
    ['orders-000123.ndjson', 'orders-*.ndjson'],
    ['export.json', 'export.json'],
    ['/data/in/weather_2024-03-29T10-00-00.csv.gz', 'weather_*.csv.gz'],
    ['readings.2024.03.csv', 'readings.*.csv'],
    ['site7_20240329_part2.csv', 'site*_part*.csv'],
    ['odd[1].csv', 'odd\\[*\\].csv'],
  ])('%s → %s', (fileName, glob) => {
    expect(globFromFileName(fileName)).toBe(glob);
  });
});
