#!/usr/bin/env node
// `npm start`: the whole pipeline on this machine. Finds PostgreSQL and NATS or runs its own (see
// local-services.mjs), creates and migrates the database, builds the four services, starts them with the
// SPEC defaults (every one overridable by environment variables), prints a local API key and the URLs,
// and stops them all, and whatever it started, on Ctrl-C.
//   --no-build       reuse dist/ from an earlier build
//   SLUICE_HOME      local data folder (API keys, service logs, embedded PostgreSQL and NATS data); default ./.sluice
//   SLUICE_LOGS=stdout   stream the services' JSON logs here instead of $SLUICE_HOME/logs/<service>.log
//   SLUICE_PG_PORT / SLUICE_NATS_PORT   port of the local PostgreSQL / NATS when DATABASE_URL / NATS_URL are unset
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localServices, LocalServiceError } from './local-services.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = new Set(process.argv.slice(2));
const home = resolve(process.env.SLUICE_HOME ?? join(root, '.sluice'));
mkdirSync(join(home, 'logs'), { recursive: true });

const children = new Map();
let stopping = false;
let local;
let exiting;
/** Ends the launcher once what it started (PostgreSQL, NATS) has stopped. */
const exit = (code) => (exiting ??= Promise.resolve(local?.stop()).finally(() => process.exit(code)));

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  process.stdout.write('\n• stopping…\n');
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

try {
  local = await localServices({ env: process.env, home, log: (line) => process.stdout.write(`${line}\n`) });
} catch (e) {
  if (!(e instanceof LocalServiceError)) throw e;
  process.stderr.write(`✗ ${e.message}\n`);
  process.exit(1);
}
if (stopping) await exit(0);

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

const step = (title, cmd, cmdArgs) => {
  process.stdout.write(`• ${title}\n`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write(`✗ ${title} failed\n`);
    return exit(r.status ?? 1);
  }
};

await step('database: create if missing and migrate', process.execPath, [join(root, 'tools/scripts/migrate.mjs')]);
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
    process.stderr.write(`✗ ${main} is missing: run without --no-build\n`);
    await exit(1);
  }
  const child = spawn(process.execPath, [...(NODE_ARGS[name] ?? []), main], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = process.env.SLUICE_LOGS === 'stdout' ? process.stdout : createWriteStream(join(home, 'logs', `${name}.log`), { flags: 'a' });
  child.stdout.pipe(sink, { end: false });
  child.stderr.pipe(process.env.SLUICE_LOGS === 'stdout' ? process.stderr : sink, { end: false });
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stderr.write(`✗ ${name} exited (${signal ?? code}); see ${join(home, 'logs', `${name}.log`)}. Stopping the others.\n`);
      void shutdown(1);
    } else if (children.size === 0) void exit(process.exitCode ?? 0);
  });
  children.set(name, child);
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
for (const [name, port] of services) {
  while (!stopping && !(await ready(port))) {
    if (Date.now() > deadline) {
      process.stderr.write(`✗ ${name} is not ready after 60 s; see ${join(home, 'logs', `${name}.log`)}\n`);
      await shutdown(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
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
Press Ctrl-C to stop.
`);
}
