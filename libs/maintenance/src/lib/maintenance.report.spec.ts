import { emptyReport } from './maintenance.job';
import { formatMaintenanceReport } from './maintenance.report';

const base = emptyReport('cli', false, new Date('2026-06-15T12:30:00.000Z'));

describe('formatMaintenanceReport', () => {
  it('says what a run did, line by line, and what it reclaimed', () => {
    const lines = formatMaintenanceReport({
      ...base,
      partitions: [
        { action: 'create', table: 'raw_sensor_data', name: 'raw_sensor_data_p20260616', from: new Date('2026-06-16T00:00:00Z'), to: new Date('2026-06-17T00:00:00Z') },
        { action: 'drop', table: 'raw_sensor_data', name: 'raw_sensor_data_p20260501', from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-05-02T00:00:00Z'), bytes: 3 * 1024 ** 2, rows: 86400 },
        { action: 'drop', table: 'log_lines', name: 'log_lines_p20260501', from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-05-02T00:00:00Z'), skipped: 'lock_timeout' },
      ],
      aggregates: [{ bucket: 'hour', horizon: '2026-06-13T12:30:00.000Z', rows: 192 }],
      sweeps: { processedFiles: { items: 4, bytes: 2048, examples: ['a.csv', 'b.csv', 'c.csv'], horizon: '2026-06-08T12:30:00.000Z' } },
      defaultRows: { raw_sensor_data: 1, log_lines: 0 },
      bytesReclaimed: 3 * 1024 ** 2 + 2048,
    });
    expect(lines).toEqual([
      'maintenance run',
      '  partition created raw_sensor_data_p20260616 [2026-06-16, 2026-06-17)',
      '  partition dropped raw_sensor_data_p20260501 [2026-05-01, 2026-05-02), 86400 rows, 3 MiB',
      '  partition log_lines_p20260501 [2026-05-01, 2026-05-02) left for the next run (lock_timeout)',
      '  hourly aggregates before 2026-06-13T12:30:00.000Z: 192 rows removed',
      '  processed/ before 2026-06-08T12:30:00.000Z: 4 files, 2 KiB removed (a.csv, b.csv, c.csv, …)',
      '  raw_sensor_data: 1 rows in the default partition',
      'reclaimed 3 MiB',
    ]);
  });

  it('speaks in the conditional on a dry run', () => {
    const lines = formatMaintenanceReport({ ...base, dryRun: true, aggregates: [{ bucket: 'day', horizon: '2026-06-10T12:30:00.000Z', rows: 5 }] });
    expect(lines).toEqual([
      'maintenance dry run: nothing was changed',
      '  partitions: nothing to do',
      '  daily aggregates before 2026-06-10T12:30:00.000Z: 5 rows would be removed',
      'would reclaim 0 bytes',
    ]);
  });
});
