import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './nats-server';

const run = promisify(execFile);
const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root: as root the cluster belongs to the `postgres` user. */
const OS_USER = 'postgres';

export interface PrivatePostgres {
  /** Admin URL (database `postgres`, trust auth); the URL a test database is created on. */
  url: string;
  port: number;
  /** `immediate` is a crash (recovery from WAL on start); `fast` a clean shutdown. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A PostgreSQL cluster of its own (initdb into a temp folder, a free port on 127.0.0.1), for tests that stop,
 * crash or restart the database without touching the machine's shared server.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`initdb not found in ${PG_BIN} (set PG_BIN)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', OS_USER]);
    const { stdout: gid } = await run('id', ['-g', OS_USER]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', OS_USER, '--', join(PG_BIN, tool), ...args]) : run(join(PG_BIN, tool), args));
  const data = join(dir, 'data');
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const options = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", '-c max_connections=300', '-c shared_buffers=64MB', '-c fsync=on'].join(' ');
  const start = async () => void (await pg('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']));
  const stop = async (mode: 'immediate' | 'fast' = 'fast') => void (await pg('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']).catch(() => undefined));
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async dispose() {
      await stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
