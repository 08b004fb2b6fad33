import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { streamName } from '@sluice/contracts';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SHARED_NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A namespace (subject prefix + stream) of its own, so suites on the shared NATS never see each other. */
export function testNamespace(label = 't'): string {
  return `t${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 12)}${randomBytes(4).toString('hex')}`;
}

/** Deletes a namespace's stream (and with it its consumers and messages); a missing stream is fine. */
export async function deleteNamespaceStream(url: string, namespace: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    await (await jetstreamManager(nc)).streams.delete(streamName(namespace)).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isListening(port)) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PrivateNatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGKILL when hard) and keeps its store, so start() brings the same streams back. */
  stop(hard?: boolean): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** A nats-server with JetStream on a free port and a temporary store, for tests that restart or kill NATS. */
export async function startPrivateNats(extraArgs: string[] = [], port?: number): Promise<PrivateNatsServer> {
  port ??= await freePort();
  const store = mkdtempSync(join(tmpdir(), 'sluice-nats-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    // Already running: a second server on the same port would fail to bind, and the first would be orphaned.
    if (proc && proc.exitCode === null && proc.signalCode === null) return;
    proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store, ...extraArgs], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const stop = async (hard = false) => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async dispose() {
      await stop(true);
      rmSync(store, { recursive: true, force: true });
    },
  };
}

export interface NatsCluster {
  /** Every node's client URL, comma-separated (NATS_URL of a service). */
  url: string;
  nodes: PrivateNatsServer[];
  /** Resolves once JetStream answers through `url` (the cluster has a meta leader). */
  waitJetStream(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Nodes of a JetStream cluster on 127.0.0.1 with routes to each other, each with a store of its own. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: size }, () => freePort()));
  const cluster = `sluice${randomBytes(3).toString('hex')}`;
  const routeList = routes.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes = await Promise.all(
    ports.map((port, i) =>
      startPrivateNats(['-n', `${cluster}-${i}`, '--cluster_name', cluster, '--cluster', `nats://127.0.0.1:${routes[i]}`, '--routes', routeList], port),
    ),
  );
  const url = nodes.map((n) => n.url).join(',');
  const waitJetStream = async (timeoutMs = 60000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await connect({ servers: url.split(','), timeout: 2000 })
        .then(async (nc) => {
          try {
            await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
            return true;
          } finally {
            await nc.close();
          }
        })
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`the NATS cluster had no JetStream leader within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  await waitJetStream();
  return { url, nodes, waitJetStream, dispose: async () => void (await Promise.all(nodes.map((n) => n.dispose()))) };
}
