import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { runCli } from './program';

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await runCli(['node', 'sluice', ...args], { out, err }, env);
  return { code, ...chunks };
}

describe('runCli', () => {
  it.each([[['--help']], [['backfill', '--help']], [['retrieve-sensor-readings', '--help']], [['migrate', '--help']], [['replay', '--help']], [['status', '--help']]])(
    '%p prints help and exits 0',
    async (args) => {
      const r = await run(args);
      expect(r.code).toBe(0);
      expect(r.out).toContain('Usage: sluice');
    },
  );

  it('exits 2 on an unknown command, a missing option or a bad value', async () => {
    expect((await run(['nope'])).code).toBe(2);
    expect((await run(['retrieve-sensor-readings', '--sensor-name', 's'])).code).toBe(2);
    const badSize = await run(['retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', '2013-01-01', '--end-timestamp', '2013-01-02', '--page-size', '0']);
    expect(badSize.code).toBe(2);
    expect(badSize.err).toContain('--page-size');
    expect((await run(['retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', '2013-01-01', '--end-timestamp', '2013-01-02', '--format', 'xml'])).code).toBe(2);
    expect((await run(['migrate', 'sideways'])).code).toBe(2);
  });

  it('exits 2 with a message naming the variable on bad configuration, without a stack trace', async () => {
    const r = await run(['status'], { DATABASE_URL: 'mysql://nope' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('DATABASE_URL');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('says which variable to set when the database does not exist', async () => {
    const url = new URL(process.env['TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    url.pathname = '/sluice_no_such_database';
    const r = await run(['status'], { DATABASE_URL: url.toString() });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^sluice: cannot connect to PostgreSQL at .*\/sluice_no_such_database \(DATABASE_URL\): database "sluice_no_such_database" does not exist; give the DATABASE_URL the services run with, or create this one with npm run migrate\n$/);
  });

  it('refuses an end before the start as a usage error', async () => {
    const r = await run(['retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', '2013-01-02', '--end-timestamp', '2013-01-01']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('sluice: --end-timestamp must not be before --start-timestamp\n');
  });

  it('exits 1 with one line when the query API cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const r = await run(['retrieve-sensor-readings', '--sensor-name', 's', '--start-timestamp', '2013-01-01', '--end-timestamp', '2013-01-02'], {
      QUERY_API_URL: `http://127.0.0.1:${port}`,
      QUERY_API_KEY: 'k',
    });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`sluice: cannot reach the query API at http://127.0.0.1:${port} (QUERY_API_URL): ECONNREFUSED; is it running (npm start)?\n`);
  });
});
