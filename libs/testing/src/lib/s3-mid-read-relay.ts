import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './nats-server';

interface Armed {
  path: string;
  /** GETs of the path still to let through before those that may be held. */
  skip: number;
  afterBytes: number;
  action: () => Promise<void>;
  done: { resolve: () => void; reject: (e: unknown) => void };
}

const REQUEST_LINE = /(?:^|\r\n)(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP\/1\.1\r\n/g;

/** Bytes the server has queued on its side of a connection and the relay has not taken (Linux: /proc/net/tcp), or null when not found. */
function serverSendQueue(serverPort: number, relayPort: number): number | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[1].endsWith(`:${hex(serverPort)}`) || !f[2].endsWith(`:${hex(relayPort)}`)) continue;
    return parseInt(f[4].split(':')[0], 16);
  }
  return null;
}

/**
 * Waits until the server sends no more on the held connection: its send queue stays the same over several
 * looks (full: it is blocked and reads no more of the object until the relay takes bytes again; empty: the
 * whole response is already on its way).
 */
async function serverBlocked(upstream: Socket, serverPort: number): Promise<void> {
  let last = -1;
  for (let same = 0; same < 5; ) {
    await new Promise((r) => setTimeout(r, 20));
    const queued = upstream.localPort === undefined ? null : serverSendQueue(serverPort, upstream.localPort);
    if (queued === null) return;
    same = queued === last ? same + 1 : 0;
    last = queued;
  }
}

/**
 * A TCP relay in front of an S3 server that strikes in the middle of one response: once the GET of a key
 * has carried `afterBytes` bytes to the reader, the relay stops reading, waits until the server is blocked
 * on the full connection (it reads no more of the object meanwhile), runs an action against the server
 * itself (an overwrite, a delete) and then lets the response go on: the rest of the response is what the
 * server reads after the action. Requests are matched on their request line (clients send one request at a
 * time per connection, so the next response bytes answer it). Linux (it reads /proc/net/tcp).
 */
export class S3MidReadRelay {
  private readonly armed: Armed[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Relays 127.0.0.1:<port> to the server at `target` (an http://host:port endpoint). */
  static async start(target: string, port?: number): Promise<S3MidReadRelay> {
    const url = new URL(target);
    const listenPort = port ?? (await freePort());
    const server = createServer();
    const relay = new S3MidReadRelay(server, listenPort);
    server.on('connection', (client) => relay.relay(client, url.hostname, Number(url.port)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', resolve);
    });
    return relay;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Holds the first GET of bucket/key from the `nth` on (from 1, counted from now) whose response carries
   * `afterBytes` bytes, and runs `action` then; resolves once the action has run (rejects with its error).
   */
  midRead(bucket: string, key: string, action: () => Promise<void>, opts: { nth?: number; afterBytes?: number } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      this.armed.push({ path, skip: (opts.nth ?? 1) - 1, afterBytes: opts.afterBytes ?? 64 * 1024, action, done: { resolve, reject } });
    });
  }

  /** Forgets the actions not yet struck (they never resolve); returns how many. One struck already still runs and resolves. */
  disarm(): number {
    return this.armed.splice(0).length;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    // The GET this connection is answering now, and the action it may strike (the first of its responses to carry afterBytes).
    let current: { carried: number; armed?: Armed } | null = null;
    let held = false;
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
        const armed = m[1] === 'GET' ? this.armed.find((a) => a.path === m[2].split('?')[0]) : undefined;
        current = { carried: 0, armed: armed && armed.skip-- <= 0 ? armed : undefined };
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => held || upstream.resume());
      }
      if (!current?.armed) return;
      current.carried += chunk.length;
      const strike = current.armed;
      const at = this.armed.indexOf(strike);
      if (current.carried < strike.afterBytes || at < 0) return;
      this.armed.splice(at, 1);
      current.armed = undefined;
      const { action, done } = strike;
      held = true;
      upstream.pause();
      serverBlocked(upstream, port)
        .then(action)
        .then(done.resolve, done.reject)
        .finally(() => {
          held = false;
          upstream.resume();
        });
    });
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.destroy();
      this.sockets.delete(client);
    });
    upstream.on('close', () => {
      client.end();
      this.sockets.delete(upstream);
    });
  }
}
