import { CommonConfig } from '@sluice/config';
import { connect as tcpConnect, createServer } from 'node:net';
import { Client } from 'pg';

/** A start-up problem told in one line: what could not be had, the variable that names it, and the fix. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

const RUN_SERVICES = 'npm run services starts a local PostgreSQL and NATS';
const CHECK_TIMEOUT_MS = 5000;

/** A URL as it may be printed: without its password. */
const shown = (url: string) => url.replace(/(\/\/[^:/@]*:)[^@/]*@/g, '$1***@');

/** PostgreSQL at DATABASE_URL answers and holds the database; otherwise a StartError naming the variable and the fix. */
export async function checkPostgres(config: CommonConfig): Promise<void> {
  const url = config.DATABASE_URL;
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === '3D000') throw new StartError(`the database of DATABASE_URL (${shown(url)}) does not exist: npm run migrate creates and migrates it`);
    if (/^[0-9A-Z]{5}$/.test(err.code ?? '')) throw new StartError(`PostgreSQL at ${shown(url)} (DATABASE_URL) refused the connection: ${err.message}`);
    throw new StartError(`no PostgreSQL answers at ${shown(url)} (DATABASE_URL): ${err.code ?? err.message}. Start it (${RUN_SERVICES}), or set DATABASE_URL`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Some server of NATS_URL accepts a connection; otherwise a StartError naming the variable and the fix. */
export async function checkNats(config: CommonConfig): Promise<void> {
  let problem: string | null = 'no server';
  for (const server of config.natsServers) {
    const url = new URL(server.includes('://') ? server : `nats://${server}`);
    problem = await tcpProblem(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 4222));
    if (!problem) return;
  }
  throw new StartError(`no NATS server answers at ${config.NATS_URL} (NATS_URL): ${problem}. Start one (${RUN_SERVICES}), or set NATS_URL`);
}

function tcpProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port, timeout: CHECK_TIMEOUT_MS });
    socket.once('connect', () => (socket.destroy(), resolve(null)));
    socket.once('timeout', () => (socket.destroy(), resolve('ETIMEDOUT')));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** The HTTP port can be bound (checked by binding it for a moment); otherwise a StartError naming its variable. */
export async function checkPort(port: number, host: string, variable: string): Promise<void> {
  const problem = await new Promise<string | null>((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
  if (problem === 'EADDRINUSE') throw new StartError(`${host}:${port} (${variable}) is in use, by another copy of this service or npm start? Stop it, or set ${variable} to a free port`);
  if (problem) throw new StartError(`cannot listen on ${host}:${port} (${variable}): ${problem}`);
}
