import { QueryApiConfig } from '@sluice/config';
import { RETENTION_HEADER, RETENTION_NOTE, retentionHeaderDoc, retentionNote, setRetentionHeader } from './retention-horizon';

const NOW = Date.parse('2026-04-10T12:00:00Z');
const config = (env: Partial<Record<'RAW_RETENTION' | 'HOURLY_AGGREGATE_RETENTION' | 'DAILY_AGGREGATE_RETENTION' | 'LOG_RETENTION', string>>) =>
  Object.assign(new QueryApiConfig(), env);

describe('retentionNote', () => {
  const c = config({ RAW_RETENTION: '90d', LOG_RETENTION: '36h' });

  it('names now minus the retention when the range starts before it, with microseconds', () => {
    expect(retentionNote(c, 'readings', '2026-01-01', NOW)).toEqual({ horizon: '2026-01-10T12:00:00.000000Z', note: RETENTION_NOTE });
    expect(retentionNote(c, 'logs', '2026-04-09T00:00:00+02:00', NOW)).toEqual({ horizon: '2026-04-09T00:00:00.000000Z', note: RETENTION_NOTE });
  });

  it('says nothing from the horizon on: the horizon itself is kept', () => {
    expect(retentionNote(c, 'readings', '2026-01-10T12:00:00Z', NOW)).toBeUndefined();
    expect(retentionNote(c, 'readings', '2026-01-10T11:59:59.999999Z', NOW)?.horizon).toBe('2026-01-10T12:00:00.000000Z');
  });

  it('takes a range without `from` as starting at the beginning', () => {
    expect(retentionNote(c, 'readings', undefined, NOW)?.horizon).toBe('2026-01-10T12:00:00.000000Z');
  });

  it('says nothing for data whose retention is not set', () => {
    expect(retentionNote(c, 'hourly_aggregates', '2000-01-01', NOW)).toBeUndefined();
    expect(retentionNote(c, 'daily_aggregates', undefined, NOW)).toBeUndefined();
  });
});

describe('setRetentionHeader and its OpenAPI', () => {
  it('sets the header only with a note', () => {
    const headers: Record<string, string> = {};
    const res = { setHeader: (name: string, value: string) => (headers[name] = value) };
    setRetentionHeader(res, undefined);
    expect(headers).toEqual({});
    setRetentionHeader(res, { horizon: '2026-01-10T12:00:00.000000Z', note: RETENTION_NOTE });
    expect(headers).toEqual({ [RETENTION_HEADER]: '2026-01-10T12:00:00.000000Z' });
  });

  it('documents which variables set it', () => {
    expect(retentionHeaderDoc('hourly_aggregates', 'daily_aggregates')[RETENTION_HEADER].description).toContain('`HOURLY_AGGREGATE_RETENTION` or `DAILY_AGGREGATE_RETENTION`');
  });
});
