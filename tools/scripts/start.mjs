#!/usr/bin/env node
// `npm start`: the whole pipeline on this machine. Finds PostgreSQL and NATS or runs its own (see
// local-services.mjs), creates and migrates the database, builds the four services, starts them with the
// SPEC defaults (every one overridable by environment variables), prints a local API key and the URLs,
// and stops them all, and whatever it started, on Ctrl-C.
//   --no-build       reuse dist/ from an earlier build
//   --services-only  only PostgreSQL and NATS (found or run, migrated), for `nx serve <app>` and the CLI (`npm run services`)
//   SLUICE_HOME      local data folder (API keys, service logs, embedded PostgreSQL and NATS data); default ./.sluice
//   SLUICE_LOGS=stdout   stream the services' JSON logs here instead of $SLUICE_HOME/logs/<service>.log
//   SLUICE_PG_PORT / SLUICE_NATS_PORT   port of the local PostgreSQL / NATS when DATABASE_URL / NATS_URL are unset
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localServices, LocalServiceError } from './local-services.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = new Set(process.argv.slice(2));
const home = resolve(process.env.SLUICE_HOME ?? join(root, '.sluice'));
mkdirSync(join(home, 'logs'), { recursive: true });
const relativeToCwd = (path) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

const servicesOnly = args.has('--services-only');
// Output may go to a pipe (`npm start | tee start.log`) whose reader a Ctrl-C ends first: a write then fails
// with EPIPE, which must not stop the launcher before it has stopped what it started.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const say = (line) => process.stdout.write(`${line}\n`);
const complain = (line) => process.stderr.write(`${line}\n`);

const children = new Map();
/** The services that have ended since the launcher began to stop, in the order they ended. */
const stoppedServices = [];
let stopping = false;
let local;
let exiting;

// What runs now, for the reaper (tools/scripts/reaper.mjs), which stops it should the launcher die without
// doing so itself (kill -9). Removed once the launcher has stopped everything.
const stateFile = join(home, 'launcher.json');
function recordState() {
  if (!local) return;
  const state = { launcher: process.pid, services: Object.fromEntries([...children].map(([name, child]) => [name, child.pid])), infra: local.processes() };
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
  renameSync(`${stateFile}.tmp`, stateFile);
}

/** Ends the launcher once what it started (PostgreSQL, NATS) has stopped, with a last line saying what stopped. */
const exit = (code) =>
  (exiting ??= (async () => {
    const infra = local?.processes().map((p) => p.what) ?? [];
    await Promise.resolve(local?.stop()).catch((e) => complain(`✗ could not stop everything: ${e.message}`));
    rmSync(stateFile, { force: true });
    const stopped = [...stoppedServices, ...infra];
    const kept = local && infra.length === 0 ? 'PostgreSQL and NATS were not started here and keep running' : '';
    const last = stopped.length ? `• stopped ${stopped.join(', ')}${kept ? `; ${kept}` : ''}` : kept ? `• nothing to stop: ${kept}` : '• stopped before anything had started';
    say(last);
    // Also kept in the log: the terminal's pipe (`| tee`) may have closed before this line could pass.
    appendFileSync(join(home, 'logs', 'launcher.log'), `${new Date().toISOString()} npm start (pid ${process.pid}) ${last.slice(2)}\n`);
    process.exit(code);
  })());

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  say('\n• stopping…');
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    void exit(code || 1);
  }, 20000).unref();
  // Before PostgreSQL and NATS are up, the launcher stops once they are (see below).
  if (children.size === 0 && local) await exit(code);
}
// SIGHUP: the terminal closed; PostgreSQL and NATS run detached from it and would be left behind.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void shutdown(0));
// A bug of the launcher itself still stops what it started.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (e) => {
    complain(`✗ npm start failed: ${e?.message ?? e}`);
    void shutdown(1);
  });
}

try {
  local = await localServices({ env: process.env, home, log: say });
} catch (e) {
  if (!(e instanceof LocalServiceError)) throw e;
  complain(`✗ ${e.message}`);
  process.exit(1);
}
if (stopping) await exit(0);
recordState();
spawn(process.execPath, [join(root, 'tools/scripts/reaper.mjs'), String(process.pid), stateFile], { detached: true, stdio: 'ignore' }).unref();

const env = {
  ...process.env,
  DATABASE_URL: local.databaseUrl,
  NATS_URL: local.natsUrl,
  DROPZONE_DIR: resolve(process.env.DROPZONE_DIR ?? join(root, 'dropzone')),
  WATCHER_PORT: process.env.WATCHER_PORT ?? '3003',
  INGEST_API_PORT: process.env.INGEST_API_PORT ?? '3001',
  PROCESSOR_PORT: process.env.PROCESSOR_PORT ?? '3004',
  QUERY_API_PORT: process.env.QUERY_API_PORT ?? '3002',
};

// A local key pair, made once and kept in the data folder (mode 0600), unless keys are given.
const keysFile = join(home, 'api-keys.json');
let keys;
if (existsSync(keysFile)) keys = JSON.parse(readFileSync(keysFile, 'utf8'));
else {
  keys = { ingest: `ing_${randomBytes(18).toString('base64url')}`, query: `qry_${randomBytes(18).toString('base64url')}` };
  writeFileSync(keysFile, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
}
env.INGEST_API_KEYS ??= keys.ingest;
env.QUERY_API_KEYS ??= keys.query;

/** Runs one step, its output passed through (a spawned child, so the launcher still hears Ctrl-C meanwhile). */
const step = async (title, cmd, cmdArgs) => {
  say(`• ${title}`);
  const t0 = Date.now();
  const child = spawn(cmd, cmdArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (b) => process.stdout.write(b));
  child.stderr.on('data', (b) => process.stderr.write(b));
  const code = await new Promise((resolve) => child.once('close', (c) => resolve(c)));
  if (stopping) return new Promise(() => undefined); // shutdown() finishes the launcher
  if (code !== 0) {
    complain(`✗ ${title} failed`);
    return exit(code ?? 1);
  }
  say(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
};

// Where PostgreSQL and NATS are, for other shells: `. .sluice/env` before `nx serve` or the CLI.
const envFile = join(home, 'env');
const shellQuote = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
writeFileSync(envFile, ['DATABASE_URL', 'NATS_URL', 'DROPZONE_DIR'].map((k) => `export ${k}=${shellQuote(env[k])}\n`).join(''));

await step('database: create if missing and migrate', process.execPath, [join(root, 'tools/scripts/migrate.mjs')]);
if (servicesOnly) {
  say(`
PostgreSQL and NATS are running.
  DATABASE_URL  ${env.DATABASE_URL}
  NATS_URL      ${env.NATS_URL}
  env file      ${envFile}   (. ${relativeToCwd(envFile)} in another shell, then npx nx serve <app> or npx sluice …)
Press Ctrl-C to stop them.`);
  // Until a signal: a timer keeps the process up when it started nothing (PostgreSQL and NATS were found).
  setInterval(() => undefined, 1 << 30);
  await new Promise(() => undefined);
}
if (!args.has('--no-build')) {
  await step('build the four services', process.execPath, [
    join(root, 'node_modules/nx/dist/bin/nx.js'), 'run-many', '-t', 'build',
    '--projects=watcher,processor,ingest-api,query-api', '--outputStyle=static',
  ]);
}

/**
 * V8 flags per service. The ingest-api's young generation stays small (2 MB semi-spaces instead of up to
 * 16 MB): upload chunks are then collected soon after they are written, and a 200 MB upload stays well
 * under 150 MB RSS. docker-compose.yml, `nx serve ingest-api` and the test stack (libs/testing) start it the same way.
 */
// The processor's validation of JSON items makes much short-lived garbage: an 8 MB semi-space keeps a 1 GB
// document's load under 300 MB RSS (~370 MB with the default).
const NODE_ARGS = { 'ingest-api': ['--max-semi-space-size=2'], processor: ['--max-semi-space-size=8'] };

const services = [
  ['watcher', env.WATCHER_PORT],
  ['processor', env.PROCESSOR_PORT],
  ['ingest-api', env.INGEST_API_PORT],
  ['query-api', env.QUERY_API_PORT],
];
for (const [name] of services) {
  if (stopping) break;
  const main = join(root, 'dist/apps', name, 'main.js');
  if (!existsSync(main)) {
    complain(`✗ ${main} is missing: run without --no-build`);
    await exit(1);
  }
  const child = spawn(process.execPath, [...(NODE_ARGS[name] ?? []), main], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = process.env.SLUICE_LOGS === 'stdout' ? process.stdout : createWriteStream(join(home, 'logs', `${name}.log`), { flags: 'a' });
  child.stdout.pipe(sink, { end: false });
  child.stderr.pipe(process.env.SLUICE_LOGS === 'stdout' ? process.stderr : sink, { end: false });
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) stoppedServices.push(name);
    recordState();
    if (!stopping) {
      complain(`✗ ${name} exited (${signal ?? code}); see ${join(home, 'logs', `${name}.log`)}. Stopping the others.`);
      void shutdown(1);
    } else if (children.size === 0) void exit(process.exitCode ?? 0);
  });
  children.set(name, child);
  recordState();
}

// Wait until every service answers /health/ready, then print where everything is.
const deadline = Date.now() + 60000;
const ready = async (port) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok;
  } catch {
    return false;
  }
};
say('• starting the four services');
const t0 = Date.now();
for (const [name, port] of services) {
  while (!stopping && !(await ready(port))) {
    if (Date.now() > deadline) {
      complain(`✗ ${name} is not ready after 60 s; see ${join(home, 'logs', `${name}.log`)}`);
      await shutdown(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) say(`  ${name} ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
if (!stopping) {
  process.stdout.write(`
Sluice is running.
  dashboard     http://localhost:${env.QUERY_API_PORT}/?key=${encodeURIComponent(env.QUERY_API_KEYS.split(',')[0])}
  drop folder   ${env.DROPZONE_DIR}/incoming/
  query API     http://localhost:${env.QUERY_API_PORT}        docs: http://localhost:${env.QUERY_API_PORT}/docs
  ingest API    http://localhost:${env.INGEST_API_PORT}        docs: http://localhost:${env.INGEST_API_PORT}/docs
  query key     ${env.QUERY_API_KEYS.split(',')[0]}
  ingest key    ${env.INGEST_API_KEYS.split(',')[0]}
  try           curl -H 'x-api-key: ${env.QUERY_API_KEYS.split(',')[0]}' http://localhost:${env.QUERY_API_PORT}/files
  logs          ${process.env.SLUICE_LOGS === 'stdout' ? 'here' : join(home, 'logs')}
  DATABASE_URL  ${env.DATABASE_URL}
  NATS_URL      ${env.NATS_URL}
  env file      ${envFile}   (. ${relativeToCwd(envFile)} gives another shell these, for the CLI)
Press Ctrl-C to stop.
`);
}
