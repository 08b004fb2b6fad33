import { createTestDatabase, freePort, SHARED_NATS_URL, testNamespace, WORKSPACE_ROOT, type TestDatabase } from '@sluice/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVICES = [
  ['watcher', 'WATCHER_PORT'],
  ['processor', 'PROCESSOR_PORT'],
  ['ingest-api', 'INGEST_API_PORT'],
  ['query-api', 'QUERY_API_PORT'],
] as const;

/** A built service started as `node main.js` with only the environment given; its exit code and output. */
function run(name: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [join(WORKSPACE_ROOT, 'dist/apps', name, 'main.js')], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 60000);
  return new Promise((resolve) => proc.once('exit', (code) => (clearTimeout(killer), resolve({ code, stdout, stderr }))));
}

describe('a service that cannot start says why in one line and exits 1, never "started" first', () => {
  let db: TestDatabase;
  let dropzone: string;
  let holder: Server;
  let held: number;
  const namespace = testNamespace('svcstart');
  const base = () => ({
    DATABASE_URL: db.url,
    NATS_URL: SHARED_NATS_URL,
    NATS_NAMESPACE: namespace,
    DROPZONE_DIR: dropzone,
    ALLOW_ANONYMOUS: 'true',
    LOG_LEVEL: 'info',
  });

  beforeAll(async () => {
    db = await createTestDatabase('svcstart');
    dropzone = mkdtempSync(join(tmpdir(), 'sluice-svcstart-'));
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    held = (holder.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => holder?.close(resolve));
    await db?.drop();
    rmSync(dropzone, { recursive: true, force: true });
  });

  const expectOneLine = (r: { code: number | null; stdout: string; stderr: string }, name: string) => {
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^✗ ${name} cannot start: `));
    expect(r.stdout).not.toMatch(/successfully started/);
  };

  it.each(SERVICES)('%s: its port taken', async (name, portVariable) => {
    const r = await run(name, { ...base(), [portVariable]: String(held) });
    expectOneLine(r, name);
    expect(r.stderr).toContain(`127.0.0.1:${held} (${portVariable}) is in use`);
  });

  it.each(SERVICES)('%s: no PostgreSQL at DATABASE_URL', async (name, portVariable) => {
    const nowhere = await freePort(); // nothing listens there
    const r = await run(name, { ...base(), [portVariable]: String(await freePort()), DATABASE_URL: `postgres://postgres@127.0.0.1:${nowhere}/sluice` });
    expectOneLine(r, name);
    expect(r.stderr).toContain(`no PostgreSQL answers at postgres://postgres@127.0.0.1:${nowhere}/sluice (DATABASE_URL)`);
    expect(r.stderr).toContain('npm run services');
  });

  it.each(SERVICES)('%s: no NATS at NATS_URL', async (name, portVariable) => {
    const nowhere = await freePort(); // nothing listens there
    const r = await run(name, { ...base(), [portVariable]: String(await freePort()), NATS_URL: `nats://127.0.0.1:${nowhere}` });
    expectOneLine(r, name);
    expect(r.stderr).toContain(`no NATS server answers at nats://127.0.0.1:${nowhere} (NATS_URL)`);
  });
});
