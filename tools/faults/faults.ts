import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceName } from '@sluice/testing';
import { CAMPAIGN_BUCKET, CAMPAIGN_SERVICES, type Environment } from './environment';
import type { CsvInput, Rng } from './inputs';
import { objectName, putObject } from './load';

const SERVICES: ServiceName[] = ['watcher', 'processor', 'ingest-api', 'query-api'];

/** Every kind of fault the campaign injects; each round takes the next one in turn plus up to two at random. */
export const FAULT_KINDS = [
  ...SERVICES.map((s) => `kill:${s}` as const),
  ...SERVICES.map((s) => `stop:${s}` as const),
  'nats-node',
  'nats-restart',
  'pg-restart',
  'pg-terminate',
  'disk-full',
  's3-overwrite',
  's3-delete',
  's3-kill',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that cannot overlap in one round share a group (one at a time per group). */
const group = (k: FaultKind) => (k.startsWith('nats') ? 'nats' : k.startsWith('pg') ? 'pg' : k.startsWith('s3') ? 's3' : k);

/** Faults that strike one object of the round in the middle of a processor's GET. */
export const isMidRead = (k: FaultKind): k is 's3-overwrite' | 's3-delete' => k === 's3-overwrite' || k === 's3-delete';

export interface PlannedFault {
  kind: FaultKind;
  /** When it strikes, ms after the round's load starts. */
  atMs: number;
  /** How long the fault lasts before it is healed (restart, SIGCONT, space freed). */
  holdMs: number;
  /** Which copy of a service it hits (index among the service's copies). */
  index: number;
  /** A mid-read fault's object (put by the round's load), the version put over it, and whether it struck. */
  midRead?: { target: CsvInput; replacement?: CsvInput; struck?: boolean };
  /** A disk-full fault: the service copies seen paused (`disk` degraded in /health/ready), and those seen resumed. */
  disk?: { paused: string[]; resumed: string[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function planFaults(rng: Rng, round: number, loadMs: number, available: readonly FaultKind[]): PlannedFault[] {
  const kinds: FaultKind[] = [available[round % available.length]];
  for (let extra = rng.int(0, 2); extra > 0; extra--) {
    const k = rng.pick(available);
    if (!kinds.some((x) => group(x) === group(k))) kinds.push(k);
  }
  return kinds.map((kind) => {
    const svc = kind.includes(':') ? (kind.split(':')[1] as ServiceName) : undefined;
    return { kind, atMs: rng.int(0, loadMs), holdMs: rng.int(200, 2500), index: svc ? rng.int(0, CAMPAIGN_SERVICES[svc] - 1) : rng.int(0, isMidRead(kind) ? 1 : 2) };
  });
}

const describeDisk = (d: { paused: string[]; resumed: string[] }) => ` paused ${d.paused.join(',') || 'none'}, resumed ${d.resumed.join(',') || 'none'}`;

export const describeFault = (f: PlannedFault) =>
  f.disk ? `${f.kind}@${f.atMs}ms/${f.holdMs}ms(${describeDisk(f.disk).trim()})` : f.midRead ? `${f.kind}(${f.midRead.target.name} GET#${f.index + 1}${f.midRead.struck ? '' : ', read before it struck'})` : `${f.kind}${f.kind.includes(':') || f.kind === 'nats-node' ? `#${f.index}` : ''}@${f.atMs}ms/${f.holdMs}ms`;

/**
 * Overwrites or deletes the fault's object in the middle of a processor's GET of it (the processor's first
 * GET reads the head to route the file, the second is the load: `index` picks one), through the relay the
 * processors read from. Armed before the object is put; disarmed when the object's version has an outcome
 * without being struck (a redelivery after another fault may read it otherwise).
 */
async function midRead(env: Environment, f: PlannedFault): Promise<void> {
  const m = f.midRead;
  if (!m) throw new Error(`${f.kind} without an object`);
  const key = m.target.name;
  const action = f.kind === 's3-overwrite' ? () => putObject(env.s3, key, m.replacement?.body ?? Buffer.alloc(0)) : () => env.s3.client.send(new DeleteObjectCommand({ Bucket: CAMPAIGN_BUCKET, Key: key })).then(() => undefined);
  let struck = false;
  const strike = env.s3Relay.midRead(CAMPAIGN_BUCKET, key, action, { nth: f.index + 1, afterBytes: 1024 }).then(() => (struck = true));
  const deadline = Date.now() + 120000;
  while (!struck && Date.now() < deadline) {
    await Promise.race([strike, sleep(250)]);
    // PostgreSQL may be down (another fault of the round): then it is simply not settled yet.
    const settled = await env.stack
      .query(`SELECT 1 FROM ingest_files WHERE original_name = $1 AND sha256 = $2 AND status IN ('processed', 'quarantined', 'failed', 'duplicate')`, [objectName(key), m.target.sha256])
      .catch(() => []);
    if (settled.length && !struck) break;
  }
  // Struck already (held, its action under way) unless it was still armed.
  if (!struck && env.s3Relay.disarm() === 0) await strike;
  m.struck = struck;
}

/** Fills the drop folder's file system until writes fail with ENOSPC; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, '.filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // The last partial MiB too, so not even a small write fits.
  const fd2 = openSync(path, 'a');
  try {
    for (let size = 65536; size >= 1; size >>= 1) {
      try {
        for (;;) writeSync(fd2, chunk.subarray(0, size));
      } catch {
        /* next smaller size */
      }
    }
  } finally {
    closeSync(fd2);
  }
  return path;
}

/** The service copies that write to the drop folder, and so pause while its disk is below MIN_FREE_DISK. */
const DISK_CHECKED: ServiceName[] = ['watcher', 'ingest-api'];

/**
 * The watchers and ingest-apis (alive ones) whose /health/ready says `disk` is degraded (`low`) or not. Asking
 * makes them read the free space again when their last reading is over a second old.
 */
async function diskState(env: Environment, low: boolean): Promise<string[]> {
  const copies = env.stack.processes().filter((p) => p.alive && DISK_CHECKED.includes(p.name));
  const seen = await Promise.all(
    copies.map(async (p) => {
      const res = await fetch(`${env.stack.url(p.name, p.index)}/health/ready`, { signal: AbortSignal.timeout(3000) }).catch(() => null);
      const body = res ? ((await res.json().catch(() => null)) as { info?: { disk?: { degraded?: boolean } } } | null) : null;
      return body && Boolean(body.info?.disk?.degraded) === low ? `${p.name}#${p.index}` : null;
    }),
  );
  return seen.filter((x): x is string => x !== null);
}

/** Polls until every alive copy is in the state (or `ms` pass, another fault may hold one); returns those seen in it. */
async function waitDiskState(env: Environment, low: boolean, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = await diskState(env, low);
    const alive = env.stack.processes().filter((p) => p.alive && DISK_CHECKED.includes(p.name)).length;
    if (seen.length >= alive || Date.now() > deadline) return seen;
    await sleep(250);
  }
}

/** For a NATS fault: the moment the pipeline should go on from (see resume.ts), and when JetStream answered again. */
export interface NatsFaultTimes {
  resumeFrom: number;
  jetStreamAt?: number;
}

/** Strikes one fault at its time and heals it after its hold; resolves once healed. */
export async function runFault(env: Environment, f: PlannedFault): Promise<NatsFaultTimes | undefined> {
  if (isMidRead(f.kind)) {
    await midRead(env, f);
    return undefined;
  }
  await sleep(f.atMs);
  const { stack } = env;
  const [verb, target] = f.kind.split(':');
  const svc = target as ServiceName;
  switch (verb) {
    case 'kill': {
      await stack.kill(svc, f.index, 'SIGKILL');
      await sleep(f.holdMs);
      await restartService(env, svc, f.index);
      return;
    }
    case 'stop': {
      stack.signal(svc, f.index, 'SIGSTOP');
      await sleep(f.holdMs);
      stack.signal(svc, f.index, 'SIGCONT');
      return;
    }
    case 'nats-node': {
      const node = env.nats.nodes[f.index];
      await node.stop(true);
      // Two nodes of three keep a quorum: the pipeline should not wait for this one to come back.
      const lost = Date.now();
      await sleep(f.holdMs);
      await node.start();
      return { resumeFrom: lost };
    }
    case 'nats-restart': {
      await Promise.all(env.nats.nodes.map((n) => n.stop(false)));
      await sleep(f.holdMs);
      await Promise.all(env.nats.nodes.map((n) => n.start()));
      const back = Date.now();
      await env.nats.waitJetStream();
      return { resumeFrom: back, jetStreamAt: Date.now() };
    }
    case 'pg-restart': {
      await env.pg.stop('immediate');
      await sleep(f.holdMs);
      await env.pg.start();
      return;
    }
    case 'pg-terminate': {
      const c = await env.admin();
      try {
        await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      } finally {
        await c.end();
      }
      return;
    }
    case 's3-kill': {
      await env.s3.kill();
      await sleep(f.holdMs);
      await env.s3.restart();
      return;
    }
    case 'disk-full': {
      const filler = fillDisk(env.drop.dir);
      // Below MIN_FREE_DISK the watchers pause their claims and the ingest-api refuses drop-folder bodies: seen
      // before the hold starts, and seen to end after the filler goes.
      const paused = await waitDiskState(env, true, 10000);
      await sleep(f.holdMs);
      rmSync(filler, { force: true });
      f.disk = { paused, resumed: await waitDiskState(env, false, 10000) };
      return;
    }
    default:
      throw new Error(`unknown fault ${f.kind}`);
  }
}

/**
 * Starts a service copy again; while NATS or PostgreSQL is still down it may not get ready (or exit, as a
 * supervisor would see), so it is tried again until it is.
 */
export async function restartService(env: Environment, name: ServiceName, index: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const p = env.stack.processes().find((x) => x.name === name && x.index === index);
      if (p?.alive) await env.stack.waitReady(name, index, 60000);
      else await env.stack.restart(name, index);
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await env.stack.kill(name, index, 'SIGKILL');
      await sleep(1000);
    }
  }
}

/** After a round: every service copy running and ready (one that exited on its own is started again and reported). */
export async function healAll(env: Environment): Promise<string[]> {
  const restarted: string[] = [];
  for (const p of env.stack.processes()) {
    if (!p.alive) restarted.push(`${p.name}#${p.index}`);
    await restartService(env, p.name, p.index);
  }
  return restarted;
}
