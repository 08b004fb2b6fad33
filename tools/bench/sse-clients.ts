// Load test of GET /events against a running query-api: opens many streams at once and reports how many
// were answered (200 and the `: connected` comment, or 503) within a deadline; optionally publishes lifecycle
// events and reports how long every reading client took to get them all, while `--slow` more clients open a
// stream and never read it (their sockets back up). Reports the server's resident memory (from /proc/<pid>)
// before, with the clients open, after the events, and after every client closed. Usage:
//   node -r tools/scripts/register.cjs tools/bench/sse-clients.ts --url http://127.0.0.1:3002 --key KEY \
//     --clients 2000 --seconds 8 --pid <query-api pid> [--events 200 --namespace sluice --slow 50]
import 'reflect-metadata';
import { jetstream } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { FileSubjects } from '@sluice/contracts';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3002' },
    key: { type: 'string', default: '' },
    clients: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '8' },
    pid: { type: 'string' },
    events: { type: 'string', default: '0' },
    slow: { type: 'string', default: '0' },
    namespace: { type: 'string', default: 'sluice' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    'name-bytes': { type: 'string', default: '40' },
  },
});
const clients = Number(values.clients);
const events = Number(values.events);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = () => {
  if (!values.pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${values.pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

async function main(): Promise<void> {
  const rss: Record<string, number> = { before: rssMb() };
  const started = Date.now();
  const counts = { connected: 0, refused503: 0, otherStatus: 0, errors: 0 };
  let lastConnectMs = 0;
  const received: number[] = [];
  const requests: ClientRequest[] = [];
  for (let i = 0; i < clients; i++) {
    const req = request(`${values.url}/events`, { headers: { 'x-api-key': values.key }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        if (res.statusCode === 503) counts.refused503++;
        else counts.otherStatus++;
        res.resume();
        return;
      }
      const index = received.push(0) - 1;
      let seen = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!seen && chunk.includes(': connected')) {
          seen = true;
          counts.connected++;
          lastConnectMs = Date.now() - started;
        }
        received[index] += chunk.split('\nid: ').length - 1 + (chunk.startsWith('id: ') ? 1 : 0);
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => counts.errors++);
    req.end();
    requests.push(req);
  }
  const deadline = started + Number(values.seconds) * 1000;
  while (Date.now() < deadline && counts.connected + counts.refused503 + counts.otherStatus + counts.errors < clients) await sleep(50);
  const answeredMs = Date.now() - started;

  // Clients that send the request and never read: the server must not keep their events.
  const url = new URL(values.url as string);
  const slow: Socket[] = [];
  for (let i = 0; i < Number(values.slow); i++) {
    const s = tcpConnect(Number(url.port), url.hostname);
    s.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\nx-api-key: ${values.key}\r\n\r\n`);
    s.pause();
    s.on('error', () => undefined);
    slow.push(s);
  }
  await sleep(2000);
  rss['open'] = rssMb();

  let deliveredMs: number | null = null;
  if (events > 0) {
    const nc = await natsConnect({ servers: values.nats });
    const js = jetstream(nc);
    const subject = `${values.namespace}.${FileSubjects.processing}`;
    const published = Date.now();
    for (let i = 0; i < events; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, events - i) }, () => {
          const fileId = randomUUID();
          return js.publish(subject, JSON.stringify({ fileId, status: 'processing', originalName: `${fileId}${'x'.repeat(Number(values['name-bytes']))}.csv`, at: new Date().toISOString() }), { msgID: fileId });
        }),
      );
    }
    const until = Date.now() + 120_000;
    while (Date.now() < until && received.some((n) => n < events)) await sleep(50);
    if (received.every((n) => n >= events)) deliveredMs = Date.now() - published;
    await nc.close();
    await sleep(1000);
    rss['afterEvents'] = rssMb();
  }
  const fastComplete = received.filter((n) => n >= events).length;
  // Now read the slow clients: a stream the server dropped ends before its last event.
  let slowDropped = 0;
  await Promise.all(
    slow.map(
      (s) =>
        new Promise<void>((resolve) => {
          let frames = 0;
          const done = setTimeout(resolve, 8000);
          s.setEncoding('utf8');
          s.on('data', (chunk: string) => (frames += chunk.split('\nid: ').length - 1));
          s.on('end', () => {
            if (frames < events) slowDropped++;
            clearTimeout(done);
            resolve();
          });
          s.on('close', () => resolve());
          s.resume();
        }),
    ),
  );
  for (const r of requests) r.destroy();
  for (const s of slow) s.destroy();
  await sleep(3000);
  rss['afterClose'] = rssMb();
  process.stdout.write(`${JSON.stringify({ clients, ...counts, lastConnectMs, answeredMs, events, deliveredToAllMs: deliveredMs, clientsWithAllEvents: fastComplete, slow: slow.length, slowDropped, rssMb: rss })}\n`);
}

void main();
