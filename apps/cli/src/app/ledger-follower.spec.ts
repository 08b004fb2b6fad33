import { PassThrough } from 'node:stream';
import type { DataSource } from 'typeorm';
import { followLedger, formatDuration, renderSummary } from './ledger-follower';

/** One ledger row of an empty file: queued on the first look, quarantined from the second on. */
function emptyFileLedger(): DataSource {
  let looks = 0;
  return {
    query: async () => [{ status: looks++ === 0 ? 'queued' : 'quarantined', n: 1, bytes: '0', readings: '0', rejected: '0' }],
  } as unknown as DataSource;
}

describe('followLedger', () => {
  it('ends at 100 % with an ETA of 0s when the files hold no bytes', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (c: Buffer) => (text += c.toString()));
    const r = await followLedger(emptyFileLedger(), ['10000000-0000-4000-8000-000000000001'], { out: new PassThrough(), err }, { stallMs: 60000, pollMs: 5, onStall: async () => false });
    expect(r.complete).toBe(true);
    const last = text.trim().split('\n').pop() ?? '';
    expect(last).toContain('100% | 1/1 files');
    expect(last).toContain('ETA 0s');
    expect(text).not.toMatch(/NaN|NF|INF|Infinity/);
  });
});

describe('renderSummary', () => {
  it('counts readings as readings and the rows of other tables under their own names', () => {
    const text = renderSummary({ files: 2, terminal: 2, bytes: 10, terminalBytes: 10, byStatus: { processed: 2 }, readingsLoaded: 14, rowsWrittenByTable: { raw_sensor_data: 14, log_lines: 4 }, rowsRejected: 1 });
    const cells = Object.fromEntries(text.split('\n').map((l) => l.split('│').map((c) => c.trim()).filter(Boolean)).filter((c) => c.length === 2));
    expect(cells).toMatchObject({ 'readings loaded': '14', 'log lines loaded': '4', 'lines rejected': '1' });
    expect(text).not.toContain('measurements');
  });
});

describe('formatDuration', () => {
  it('reads as a person says it', () => {
    expect([formatDuration(4.4), formatDuration(185), formatDuration(3720)]).toEqual(['4s', '3m05s', '1h02m']);
  });
});
