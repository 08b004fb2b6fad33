// The container tier: the images and docker-compose.yml of a fresh checkout of HEAD, run as a user runs them.
// Builds every image, starts the stack under a project name of its own (APIs on free 127.0.0.1 ports), loads
// the seed CSVs through the drop-folder volume and measurement payloads through the ingest-api, checks the
// exact counts through the query-api, kills a processor during a load, restarts the stack, then `down -v`.
// One file, past 400 lines, because it is one scenario in order: each step needs the stack the previous one left.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expectedWide, freePort, waitFor, wideCsv, WORKSPACE_ROOT } from '@sluice/testing';
import { csvFilesOf, generatedSeedSet, realSeedSet, type SeedSet } from '../data/seed-set';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** The realtime-pipeline CSVs: `--seeds DIR`, else files generated in their shape. */
const seedSet = (): SeedSet => (arg('seeds') ? realSeedSet(resolve(arg('seeds') as string)) : generatedSeedSet());
const keep = process.argv.includes('--keep');

const APPS = ['watcher', 'processor', 'ingest-api', 'query-api', 'cli'] as const;
const LONG_RUNNING = ['postgres', 'nats', 'watcher', 'processor', 'ingest-api', 'query-api'];
const DEV_ONLY = ['typescript', 'jest', 'nx', '@nx', '@swc', 'eslint', 'webpack', 'autocannon', 'playwright-core'];
const QUIET_MS = 120_000;

const out = (line = '') => process.stdout.write(line + '\n');
let passed = 0;
let failed = 0;
function check(what: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  out(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
}
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What is missing for this test, in one line, or null when a Docker engine and a compose tool answer. */
function missingDocker(): string | null {
  const client = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
  if (client.error) return 'no docker command on the PATH: install Docker (docker.io, Docker Desktop, or another engine with its CLI)';
  if (client.status !== 0) return `no Docker engine answers the docker command (${(client.stderr || '').trim().split('\n').pop() ?? 'docker version failed'}): start it (dockerd, Docker Desktop) and run again`;
  const compose = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0 || spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  return compose ? null : 'neither the docker compose plugin nor docker-compose is installed';
}

/** `docker compose` where the plugin is installed, else docker-compose (v1.29 and later). */
function composeCommand(): string[] {
  return spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0 ? ['docker', 'compose'] : ['docker-compose'];
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', opts.quiet ? 'pipe' : 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}${r.stderr ? `: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
  return r.stdout;
}

class ComposeStack {
  private readonly cmd = composeCommand();
  readonly env: NodeJS.ProcessEnv;
  readonly queryKey = 'ct-query-key';
  readonly ingestKey = 'ct-ingest-key';

  constructor(
    readonly dir: string,
    readonly project: string,
    readonly ports: { ingest: number; query: number },
  ) {
    this.env = {
      ...process.env,
      INGEST_API_KEYS: this.ingestKey,
      QUERY_API_KEYS: this.queryKey,
      INGEST_API_PUBLISH: `127.0.0.1:${ports.ingest}`,
      QUERY_API_PUBLISH: `127.0.0.1:${ports.query}`,
      SLUICE_TAG: project,
    };
  }

  get tool(): string {
    return this.cmd.join(' ');
  }

  compose(args: string[], quiet = false): string {
    return run(this.cmd[0], [...this.cmd.slice(1), '-p', this.project, '-f', join(this.dir, 'docker-compose.yml'), ...args], { cwd: this.dir, env: this.env, quiet });
  }

  image(app: (typeof APPS)[number]): string {
    return `sluice/${app}:${this.project}`;
  }

  /** Containers of this project, by service (one-shot services included). */
  containers(): { id: string; service: string }[] {
    return run('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${this.project}`, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}}'])
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id, service] = l.split(' ');
        return { id, service };
      });
  }

  inspect(id: string): { restarts: number; status: string; health?: string } {
    const [restarts, status, health] = run('docker', ['inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', id]).trim().split(' ');
    return { restarts: Number(restarts), status, health };
  }

  /** Every long-running container running and healthy (each has a healthcheck but NATS, whose image has no tools for one). */
  async waitHealthy(what: string, processors = 1): Promise<void> {
    await waitFor(
      what,
      async () => {
        const ready = this.containers().filter((c) => {
          if (!LONG_RUNNING.includes(c.service)) return false;
          const s = this.inspect(c.id);
          return s.status === 'running' && (s.health === 'healthy' || (c.service === 'nats' && !s.health));
        });
        return ready.length === LONG_RUNNING.length - 1 + processors;
      },
      300_000,
      1000,
    );
  }

  /** The container's addresses on its networks. */
  addresses(id: string): string[] {
    return run('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', id]).trim().split(' ').filter(Boolean);
  }

  /** One SQL query through psql inside the postgres container, its rows as text lines. */
  sql(query: string): string[] {
    const [pg] = this.service('postgres');
    return run('docker', ['exec', pg, 'psql', '-U', 'postgres', '-d', 'sluice', '-Atc', query], { quiet: true }).trim().split('\n').filter(Boolean);
  }

  service(name: string): string[] {
    return this.containers()
      .filter((c) => c.service === name && this.inspect(c.id).status === 'running')
      .map((c) => c.id);
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.ports.query}${path}`, { headers: { 'x-api-key': this.queryKey } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async ingest(body: unknown, key: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.ports.ingest}/ingest`, {
      method: 'POST',
      headers: { 'x-api-key': this.ingestKey, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Drops files the way a well-behaved writer does: unpacked beside incoming/ in the volume, then renamed in. */
  async drop(dir: string, files: string[]): Promise<void> {
    const watcher = this.service('watcher')[0];
    const staging = `/dropzone/.staging-${Date.now()}`;
    const tar = spawn('tar', ['-c', '-C', dir, ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exec = spawn('docker', ['exec', '-i', watcher, 'sh', '-c', `mkdir ${staging} && tar -x -C ${staging} && mv ${staging}/* /dropzone/incoming/ && rmdir ${staging}`], { stdio: ['pipe', 'inherit', 'inherit'] });
    tar.stdout.pipe(exec.stdin);
    const code = await new Promise<number | null>((res) => exec.on('exit', res));
    if (code !== 0) throw new Error(`dropping ${files.length} files into the volume failed (exit ${code})`);
  }
}

interface Stats {
  files_by_status: Record<string, number>;
  folders: { source: string; counts: Record<string, number> };
  rows_rejected: number;
}
interface Sensor {
  name: string;
  reading_count: number;
}

async function measurementCount(stack: ComposeStack): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const page: { measurements: unknown[]; next_cursor: string | null } = await stack.get(`/measurements?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    n += page.measurements.length;
    cursor = page.next_cursor;
  } while (cursor);
  return n;
}

/** Totals as the query-api reports them; readings from the aggregates, so a file merged twice would show. */
async function totals(stack: ComposeStack) {
  const stats = await stack.get<Stats>('/stats');
  const sensors = await stack.get<Sensor[]>('/sensors');
  return {
    stats,
    sensors: sensors.length,
    readings: sensors.reduce((a, s) => a + s.reading_count, 0),
    measurements: await measurementCount(stack),
  };
}

/** Every ledger row `processed` (not queued, failed, quarantined or a duplicate): `n` of them. */
const onlyProcessed = (s: Stats, n: number) => Object.entries(s.files_by_status).every(([status, count]) => count === (status === 'processed' ? n : 0));

async function waitSettled(stack: ComposeStack, files: number, timeoutMs = 600_000): Promise<Stats> {
  return waitFor(
    `${files} files in a final state`,
    async () => {
      const s = await stack.get<Stats>('/stats');
      const busy = (s.files_by_status['queued'] ?? 0) + (s.files_by_status['processing'] ?? 0);
      const total = Object.values(s.files_by_status).reduce((a, b) => a + b, 0);
      return busy === 0 && total >= files && s.folders.counts['incoming'] === 0 && s.folders.counts['processing'] === 0 ? s : undefined;
    },
    timeoutMs,
    1000,
  );
}

/** POSTs `n` measurement payloads (the fixture, each with its own time_stamp); returns how many got a 202. */
async function postMeasurements(stack: ComposeStack, from: number, n: number): Promise<number> {
  const payload = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'fixtures/json/payload.json'), 'utf8')) as Record<string, unknown>;
  let accepted = 0;
  for (let i = from; i < from + n; i += 20) {
    const codes = await Promise.all(
      Array.from({ length: Math.min(20, from + n - i) }, (_, j) => stack.ingest({ ...payload, time_stamp: new Date(Date.UTC(2031, 0, 1) + (i + j) * 60_000).toISOString() }, `ct-${i + j}`)),
    );
    accepted += codes.filter((c) => c === 202).length;
  }
  return accepted;
}

function imageChecks(stack: ComposeStack): void {
  out('\n## Images');
  const base = JSON.parse(run('docker', ['image', 'inspect', 'node:24-bookworm-slim', '--format', '{{json .Size}}'])) as number;
  out(`node:24-bookworm-slim (base) ${mb(base)}`);
  for (const app of APPS) {
    const img = stack.image(app);
    const size = JSON.parse(run('docker', ['image', 'inspect', img, '--format', '{{json .Size}}'])) as number;
    out(`${img.padEnd(40)} ${mb(size).padStart(7)}  (${mb(size - base)} above the base)`);
    const version = run('docker', ['run', '--rm', '--entrypoint', 'node', img, '--version']).trim();
    check(`${app}: node ${version} is 24.x`, /^v24\./.test(version));
    const user = run('docker', ['image', 'inspect', img, '--format', '{{.Config.User}}']).trim();
    check(`${app}: runs as node`, user === 'node', `USER ${user || 'root'}`);
    const listing = run('docker', ['run', '--rm', '--entrypoint', 'sh', img, '-c', 'ls -A /app; echo --; ls -A /app/node_modules; echo --; find /app \\( -name "*.ts" -o -name "*.spec.*" -o -name "*.test.*" -o -name "*.map" \\) -print | head -5']);
    const [top, modules, sources] = listing.split('--\n').map((s) => s.trim().split('\n').filter(Boolean));
    check(`${app}: /app holds the bundle and its dependencies only`, top.every((f) => ['main.js', 'package.json', 'package-lock.json', 'node_modules'].includes(f)), top.join(' '));
    const dev = modules.filter((m) => DEV_ONLY.includes(m));
    check(`${app}: no dev dependencies`, dev.length === 0, dev.join(' '));
    check(`${app}: no sources, tests or source maps`, sources.length === 0, sources.join(' '));
  }
}

async function main(): Promise<void> {
  const missing = missingDocker();
  if (missing) {
    process.stderr.write(`container test: ${missing}\n`);
    process.exit(1);
  }
  const set = seedSet();
  const seedDir = set.dir;
  const seeds = csvFilesOf(set);
  const SEED_FILES = seeds.length;
  const { readings: SEED_READINGS, sensors: SEED_SENSORS, rejected: SEED_REJECTED } = set.expected;

  const work = mkdtempSync(join(tmpdir(), 'sluice-containers-'));
  const clone = join(work, 'sluice');
  run('git', ['clone', '--quiet', '--no-hardlinks', WORKSPACE_ROOT, clone]);
  const project = `sluicect${Date.now().toString(36)}`;
  const stack = new ComposeStack(clone, project, { ingest: await freePort(), query: await freePort() });
  out(`# Container test: ${run('git', ['-C', clone, 'log', '-1', '--format=%h %s']).trim()}`);
  out(`${stack.tool}, project ${project}, ingest-api 127.0.0.1:${stack.ports.ingest}, query-api 127.0.0.1:${stack.ports.query}`);
  out(`seed files: ${set.origin}`);

  try {
    const b0 = performance.now();
    stack.compose(['build']);
    out(`built every image in ${secs(performance.now() - b0)}`);
    imageChecks(stack);

    out('\n## Start');
    const u0 = performance.now();
    stack.compose(['up', '-d'], true);
    await stack.waitHealthy('the stack to be healthy');
    out(`up → every service healthy: ${secs(performance.now() - u0)}`);
    const quietUntil = Date.now() + QUIET_MS;

    out('\n## Seed load: 41 CSVs through the drop-folder volume, measurements through the ingest-api');
    const t0 = performance.now();
    await stack.drop(seedDir, seeds);
    const firstPayloads = 200;
    check(`${firstPayloads} POST /ingest answered 202`, (await postMeasurements(stack, 0, firstPayloads)) === firstPayloads);
    await waitSettled(stack, SEED_FILES + firstPayloads);
    out(`loaded in ${secs(performance.now() - t0)}`);
    let t = await totals(stack);
    check(`readings ${t.readings.toLocaleString('en')} = ${SEED_READINGS.toLocaleString('en')}`, t.readings === SEED_READINGS);
    check(`sensors ${t.sensors} = ${SEED_SENSORS}`, t.sensors === SEED_SENSORS);
    check(`rejected lines ${t.stats.rows_rejected} = ${SEED_REJECTED}`, t.stats.rows_rejected === SEED_REJECTED);
    check(`measurements ${t.measurements} = ${firstPayloads}`, t.measurements === firstPayloads);
    check(`files processed ${t.stats.files_by_status['processed']} = ${SEED_FILES + firstPayloads}, none other`, onlyProcessed(t.stats, SEED_FILES + firstPayloads), JSON.stringify(t.stats.files_by_status));
    check(`query-api sees the drop folder: processed/ holds ${t.stats.folders.counts['processed']} files`, t.stats.folders.source === 'dropzone' && t.stats.folders.counts['processed'] === SEED_FILES);

    const wait = quietUntil - Date.now();
    if (wait > 0) {
      out(`(waiting ${secs(wait)} so the stack has run ${QUIET_MS / 1000} s)`);
      await new Promise((r) => setTimeout(r, wait));
    }
    const restarted = stack
      .containers()
      .filter((c) => LONG_RUNNING.includes(c.service))
      .map((c) => ({ ...c, ...stack.inspect(c.id) }))
      .filter((c) => c.restarts > 0 || c.status !== 'running');
    check(`no service restarted in its first ${QUIET_MS / 1000} s`, restarted.length === 0, restarted.map((c) => `${c.service} ${c.status} restarts ${c.restarts}`).join(', '));

    out('\n## Three processors; one killed in the middle of a load');
    stack.compose(['up', '-d', '--no-recreate', '--scale', 'processor=3'], true);
    await stack.waitHealthy('three healthy processors', 3);
    check('3 processors running', stack.service('processor').length === 3);
    const gen = join(work, 'load');
    mkdirSync(gen);
    const files: string[] = [];
    let readings = 0;
    for (let i = 0; i < 12; i++) {
      const name = `ct-load-${i}.csv`;
      writeFileSync(join(gen, name), wideCsv({ lines: 40_000, devices: ['ct-a', 'ct-b'], startEpoch: Date.UTC(2032, 0, 1) / 1000 + i * 100_000 }));
      readings += expectedWide(join(gen, name)).readings;
      files.push(name);
    }
    await stack.drop(gen, files);
    const morePayloads = 300;
    const posting = postMeasurements(stack, firstPayloads, morePayloads);
    // The victim is a processor whose database session is inside a COPY at that moment: killed mid-load.
    let victim = '';
    await waitFor(
      'a processor loading a generated file',
      async () => {
        const loading = stack.sql(`SELECT host(client_addr) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY %'`);
        victim = stack.service('processor').find((id) => stack.addresses(id).some((ip) => loading.includes(ip))) ?? '';
        return victim !== '';
      },
      120_000,
      100,
    );
    run('docker', ['kill', victim], { quiet: true });
    out(`killed processor ${victim} with files in flight`);
    check(`${morePayloads} more POST /ingest answered 202`, (await posting) === morePayloads);
    await waitSettled(stack, SEED_FILES + files.length + firstPayloads + morePayloads);
    t = await totals(stack);
    const allFiles = SEED_FILES + files.length;
    const allPayloads = firstPayloads + morePayloads;
    check(`readings ${t.readings.toLocaleString('en')} = ${(SEED_READINGS + readings).toLocaleString('en')} (none lost, none twice)`, t.readings === SEED_READINGS + readings);
    check(`sensors ${t.sensors} = ${SEED_SENSORS + 14}`, t.sensors === SEED_SENSORS + 14);
    check(`measurements ${t.measurements} = ${allPayloads}`, t.measurements === allPayloads);
    check(`every file processed once: ${JSON.stringify(t.stats.files_by_status)}`, onlyProcessed(t.stats, allFiles + allPayloads));
    check(`processed/ holds ${t.stats.folders.counts['processed']} = ${allFiles} files`, t.stats.folders.counts['processed'] === allFiles);

    out('\n## Restart: down (volumes kept), up');
    const before = t;
    stack.compose(['down'], true);
    const r0 = performance.now();
    stack.compose(['up', '-d'], true);
    await stack.waitHealthy('the restarted stack to be healthy');
    out(`up → every service healthy: ${secs(performance.now() - r0)}`);
    t = await totals(stack);
    check('readings, sensors, measurements and files are all still there', JSON.stringify({ ...t, stats: t.stats.files_by_status }) === JSON.stringify({ ...before, stats: before.stats.files_by_status }));
    check(`processed/ still holds ${allFiles} files`, t.stats.folders.counts['processed'] === allFiles);

    out('\n## A host folder (bind mount) as the drop folder, owned by another user');
    stack.compose(['down', '-v'], true);
    const host = join(work, 'host-dropzone');
    mkdirSync(host, { mode: 0o755 });
    stack.env['SLUICE_DROPZONE'] = host;
    stack.compose(['up', '-d'], true);
    await stack.waitHealthy('the stack on a host folder to be healthy');
    writeFileSync(join(host, 'incoming', 'seed.csv.part'), readFileSync(join(seedDir, seeds[0])));
    renameSync(join(host, 'incoming', 'seed.csv.part'), join(host, 'incoming', 'seed.csv'));
    const s = await waitSettled(stack, 1);
    check('a file written on the host is loaded', onlyProcessed(s, 1) && readdirSync(join(host, 'processed')).length === 1, JSON.stringify(s.files_by_status));
  } catch (e) {
    check('the container test ran to the end', false, (e as Error).message);
    try {
      out(stack.compose(['logs', '--tail', '40'], true));
    } catch {
      // the stack may not have come up at all
    }
  } finally {
    if (!keep) {
      try {
        stack.compose(['down', '-v', '--remove-orphans'], true);
      } catch (e) {
        out(`down -v failed: ${(e as Error).message}`);
      }
      // --no-prune keeps the build cache (the untagged parent layers) for the next run.
      spawnSync('docker', ['rmi', '--no-prune', ...APPS.map((a) => stack.image(a))], { stdio: 'ignore' });
      try {
        rmSync(work, { recursive: true, force: true });
      } catch (e) {
        out(`could not remove ${work} (the host drop folder belongs to uid 1000 now): ${(e as Error).message}`);
      }
    } else out(`kept: ${clone}, project ${project}`);
  }
  out(`\n${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

void main();
