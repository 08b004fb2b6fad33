import { PassThrough } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { CliContext } from '../cli-context';
import { buildProgram, runCli } from '../program';

// A file named to set the window title, clear the screen and colour what follows (C1 CSI), and a reason quoting it.
const HOSTILE = 'x\u001b]0;owned\u0007\u001b[2J\u009b31m.csv';
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** The ledger as the status command's queries see it (no object-store sources). */
class FakeLedger {
  async query(sql: string): Promise<unknown[]> {
    if (sql.includes('s3_source_checkpoints')) return [];
    if (sql.includes('GROUP BY status')) return [{ status: 'quarantined', n: 1, readings: '0', rejected: '0' }, { status: 'queued', n: 1, readings: '0', rejected: '0' }];
    if (sql.includes("IN ('queued','processing')")) return [{ id: '20000000-0000-4000-8000-000000000002', name: HOSTILE, status: 'queued', attempts: 0, waiting: 3, total: 1 }];
    return [{ id: '10000000-0000-4000-8000-000000000001', name: HOSTILE, status: 'quarantined', rule: 'unrecognized_format', message: `${HOSTILE} is no known kind`, finished_at: '2026-01-01T00:00:00Z' }];
  }
}

async function status(...args: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const ctx = { db: async () => new FakeLedger() as unknown as DataSource } as Pick<CliContext, 'db'> as CliContext;
  await buildProgram(() => ctx, { out, err: new PassThrough() }).parseAsync(['node', 'sluice', 'status', ...args]);
  return text;
}

describe('sluice status', () => {
  it('shows control characters of names and reasons escaped, never raw', async () => {
    const out = await status();
    expect(out).not.toMatch(ACTIVE);
    expect(out).toContain('x\\x1b]0;owned\\x07\\x1b[2J\\x9b31m.csv');
  });

  it('--json too (JSON.stringify alone leaves C1 raw), and the JSON still reads back the name', async () => {
    const out = await status('--json');
    expect(out).not.toMatch(ACTIVE);
    expect((JSON.parse(out) as { inFlight: { name: string }[] }).inFlight[0].name).toBe(HOSTILE);
  });
});

describe('error lines', () => {
  it('escape what the user or a server put in the message, and stay one line', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (c: Buffer) => (text += c.toString()));
    const code = await runCli(['node', 'sluice', 'retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', `\u001b[2J\n${HOSTILE}`, '--end-timestamp', '2013-01-02'], { out: new PassThrough(), err }, {});
    expect(code).toBe(2);
    expect(text).not.toMatch(ACTIVE);
    expect(text).toContain('\\x1b[2J\\x0ax\\x1b]0;owned');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
  });
});
