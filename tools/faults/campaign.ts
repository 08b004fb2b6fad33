/**
 * The fault campaign: rounds of random load (dropped CSVs, uploads, objects put in a watched S3 bucket, JSON
 * payloads) while services are killed or frozen, a NATS node or the whole NATS cluster and PostgreSQL restart,
 * database backends are terminated, the drop folder's disk fills, an object is overwritten or deleted while a
 * processor reads it and the S3 server is killed and restarted; after each round a checker computed from the
 * generated inputs verifies that nothing was lost, doubled or invented. After each NATS fault it prints how long
 * the pipeline took to resume (resume.ts), and the worst of these at the end.
 * `npm run test:faults -- --rounds N --seed S [--first-round K] [--faults nats-node,nats-restart]`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitFor } from '@sluice/testing';
import { checkRound, Expectation, roundMeasurementEpoch, settle, tablesDigest } from './checker';
import { startEnvironment, type Environment } from './environment';
import { describeFault, FAULT_KINDS, healAll, isMidRead, planFaults, runFault, type FaultKind } from './faults';
import { copyOf, measurementPost, Rng, roundSeed, sensorCsv, type CsvInput, type Input } from './inputs';
import { deliver, type Delivery } from './load';
import { RESUME_FAULTS, resumeMs } from './resume';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    seed: { type: 'string' },
    'first-round': { type: 'string', default: '0' },
    'load-ms': { type: 'string', default: '2500' },
    'settle-ms': { type: 'string', default: '120000' },
    /** Only these fault kinds (comma-separated; a prefix such as `nats` or `kill` selects every kind it starts). */
    faults: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const seed = args.seed !== undefined ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);
const firstRound = Number(args['first-round']);
const loadMs = Number(args['load-ms']);
const settleMs = Number(args['settle-ms']);
for (const [name, n] of Object.entries({ rounds, seed, firstRound, loadMs, settleMs })) {
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
}
const selected = args.faults?.split(',').map((k) => k.trim()).filter(Boolean);
const isSelected = (k: FaultKind) => !selected || selected.some((s) => k === s || k.startsWith(s));
if (!FAULT_KINDS.some(isSelected)) throw new Error(`--faults selects no fault kind; kinds: ${FAULT_KINDS.join(' ')}`);

/** The inputs of one round: 2–5 dropped files, 1–3 uploads, 1–2 objects, 4–16 measurement payloads, duplicates and overlaps among them. */
function roundInputs(rng: Rng, round: number, earlier: CsvInput[]): Input[] {
  const inputs: Input[] = [];
  const csv = (kind: CsvInput['kind'], i: number) => {
    const name = `r${round}-${kind[0]}${i}.csv`;
    const source = earlier.length ? rng.pick(earlier) : undefined;
    if (source && rng.chance(0.15)) return copyOf(source, kind, name);
    return sensorCsv(rng, kind, name, `r${round}-${kind[0]}${i}`, { overlapFrom: source && rng.chance(0.2) ? source : undefined, quarantine: rng.chance(0.08) });
  };
  for (let i = rng.int(2, 5); i > 0; i--) inputs.push(csv('drop', i));
  for (let i = rng.int(1, 3); i > 0; i--) inputs.push(csv('upload', i));
  for (let i = rng.int(1, 2); i > 0; i--) inputs.push(csv('s3', i));
  const base = roundMeasurementEpoch(round);
  for (let i = rng.int(4, 16); i > 0; i--) inputs.push(measurementPost(rng, `r${round}-m${i}`, base + i * 3600, rng.chance(0.5) ? `r${round}-m${i}` : undefined));
  return inputs;
}

async function replayOne(env: Environment, rng: Rng, deliveries: Delivery[]): Promise<string | null> {
  const drops = deliveries.filter((d) => d.input.kind === 'drop' && !d.error);
  if (!drops.length) return null;
  const name = rng.pick(drops).input.name;
  const [row] = await env.stack.query<{ id: string; replays: number }>(`SELECT id, replays FROM ingest_files WHERE source = 'dropzone' AND original_name = $1 AND status IN ('processed', 'quarantined')`, [name]);
  if (!row) return null;
  const before = await tablesDigest(env.stack);
  const res = await fetch(`${env.stack.url('ingest-api')}/files/${row.id}/replay`, { method: 'POST', headers: { 'x-api-key': env.stack.ingestKey } });
  if (res.status !== 202 && res.status !== 200) return `replay of ${name}: HTTP ${res.status} ${await res.text()}`;
  await waitFor(`replay of ${name}`, async () => {
    const [r] = await env.stack.query<{ status: string; replays: number }>(`SELECT status, replays FROM ingest_files WHERE id = $1`, [row.id]);
    return r.replays > row.replays && ['processed', 'quarantined'].includes(r.status);
  }, 60000, 200);
  await waitFor('replayed file moved back', async () => (await env.stack.query(`SELECT 1 FROM ingest_files WHERE id = $1 AND stored_path NOT LIKE 'processing/%'`, [row.id])).length > 0, 30000, 200);
  const after = await tablesDigest(env.stack);
  return before === after ? null : `replay of ${name} changed the tables: ${before} → ${after}`;
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-faults-logs-'));
  out(`fault campaign: seed ${seed}, rounds ${firstRound}..${firstRound + rounds - 1}, logs in ${logDir}`);
  const env = await startEnvironment(logDir);
  // Interrupted (Ctrl-C, a CI timeout): the private servers, processes and the tmpfs go with the campaign.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void env.dispose().finally(() => process.exit(130)));
  const kinds: FaultKind[] = FAULT_KINDS.filter((k) => (k !== 'disk-full' || env.drop.limited) && isSelected(k));
  if (!env.drop.limited) out('the drop folder cannot be a tmpfs here (no mount): the disk-full fault is left out');
  out(`stack up: 2 watchers, 3 processors, ingest-api, query-api; PostgreSQL private on :${env.pg.port}; NATS cluster ${env.nats.url} (stream R3); S3 ${env.s3.endpoint} (processors through ${env.s3Relay.endpoint})`);
  const expect = new Expectation();
  const earlier: CsvInput[] = [];
  const seen = new Map<FaultKind, number>();
  let violations = 0;
  let worstResume: { ms: number; at: string } | undefined;
  try {
    for (let round = firstRound; round < firstRound + rounds; round++) {
      const rs = roundSeed(seed, round);
      const rng = new Rng(rs);
      const inputs = roundInputs(rng, round, earlier);
      const faults = planFaults(rng, round, loadMs, kinds);
      faults.forEach((f) => seen.set(f.kind, (seen.get(f.kind) ?? 0) + 1));
      // A mid-read fault strikes an object of its own (loaded whole, never quarantined) and puts a new version over it.
      for (const f of faults.filter((x) => isMidRead(x.kind))) {
        const target = sensorCsv(rng, 's3', `r${round}-t.csv`, `r${round}-t`, {});
        f.midRead = { target, replacement: f.kind === 's3-overwrite' ? sensorCsv(rng, 's3', target.name, `r${round}-t2`, {}) : undefined };
        inputs.push(target);
      }
      const started = Date.now();
      const [deliveries, resumeFrom] = await Promise.all([Promise.all(inputs.map((i) => deliver(env.stack, env.s3, i, rng.int(0, loadMs)))), Promise.all(faults.map((f) => runFault(env, f)))]);
      for (const f of faults) {
        if (!f.midRead?.struck) continue;
        const target = deliveries.find((d) => d.input === f.midRead?.target);
        if (target) target.struck = f.kind === 's3-overwrite' ? 'overwritten' : 'deleted';
        if (f.midRead.replacement) deliveries.push({ input: f.midRead.replacement, unanswered: 0 });
      }
      const selfExited = await healAll(env);
      const stuck = await settle(env.stack, deliveries, settleMs);
      const resumes: string[] = [];
      for (const [i, f] of faults.entries()) {
        const times = resumeFrom[i];
        if (!RESUME_FAULTS.includes(f.kind) || !times) continue;
        const waits = await resumeMs(env.stack, times.resumeFrom);
        const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        const js = times.jetStreamAt ? `, JetStream answered after ${secs(times.jetStreamAt - times.resumeFrom)}` : '';
        resumes.push(`${f.kind} ${waits ? `${secs(waits.firstMs)} (slowest file ${secs(waits.lastMs)}${js})` : 'nothing left to resume'}`);
        if (waits && waits.firstMs > (worstResume?.ms ?? -1)) worstResume = { ms: waits.firstMs, at: `round ${round}, ${describeFault(f)}` };
      }
      const v = stuck ? [stuck] : await checkRound(env.stack, round, deliveries, expect);
      if (!stuck) {
        const replay = await replayOne(env, rng, deliveries);
        if (replay) v.push(replay);
      }
      // Not a mid-read fault's object: its outcome is one of two, so copies of it could not be checked by content.
      for (const i of inputs) if (i.kind !== 'post' && !faults.some((f) => f.midRead?.target === i)) earlier.push(i);
      violations += v.length;
      const lost = deliveries.reduce((n, d) => n + d.unanswered, 0);
      out(
        `round ${round} seed ${rs}: ${inputs.length} inputs, faults ${faults.map(describeFault).join(' ')}` +
          `${lost ? `, ${lost} requests lost their answer and were retried` : ''}${selfExited.length ? `, exited on their own: ${selfExited.join(' ')}` : ''}` +
          `${resumes.length ? `, resumed after ${resumes.join(', ')}` : ''}` +
          ` — ${v.length ? `${v.length} VIOLATIONS` : 'ok'} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      for (const line of v) out(`  ✗ ${line}`);
      if (stuck) break;
    }
  } finally {
    await env.dispose();
  }
  out(`faults seen: ${[...seen].map(([k, n]) => `${k}×${n}`).join(' ')}`);
  const missing = kinds.filter((k) => !seen.has(k));
  if (missing.length && rounds >= kinds.length) out(`fault kinds that never occurred: ${missing.join(' ')}`);
  if (worstResume) out(`worst resume after a NATS fault: ${(worstResume.ms / 1000).toFixed(1)} s (${worstResume.at})`);
  out(`${violations} invariant violations over ${rounds} rounds (seed ${seed}; replay: npm run test:faults -- --seed ${seed} --rounds ${rounds})`);
  process.exit(violations ? 1 : 0);
}

main().catch((e: Error) => {
  err(`fault campaign aborted: ${e.stack ?? e.message}`);
  process.exit(2);
});
