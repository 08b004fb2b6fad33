import 'reflect-metadata';
import { WARM_CONNECTIONS } from '@sluice/db';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';
import { LoadRehearsal, REHEARSAL_LINES } from './load-rehearsal.service';

describe('the load rehearsal at start', () => {
  let t: ProcessorTestApp;

  beforeAll(async () => {
    t = await startProcessorApp('rehearsal');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('loads a wide sensor file on each warm connection before the first message, and leaves nothing behind', async () => {
    // Seven metrics a line, on every connection the pool keeps.
    expect(t.app.get(LoadRehearsal).rehearsedReadings).toBe(WARM_CONNECTIONS * REHEARSAL_LINES * 7);
    const counts = await t.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM sensors) AS sensors, (SELECT count(*) FROM raw_sensor_data) AS readings,
              (SELECT count(*) FROM aggregated_metrics) AS aggregates, (SELECT count(*) FROM ingest_files) AS files,
              (SELECT count(*) FROM ingest_errors) AS errors`,
    );
    expect(counts).toEqual([{ sensors: '0', readings: '0', aggregates: '0', files: '0', errors: '0' }]);
    // The connections it warmed stay open, idle.
    const [{ n }] = await t.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sluice-processor' AND state = 'idle'`);
    expect(Number(n)).toBeGreaterThanOrEqual(WARM_CONNECTIONS);
  });
});
