import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';
import { deleteNamespaceStream, freePort, SHARED_NATS_URL, startPrivateNats, testNamespace, type PrivateNatsServer } from './nats-server';
import { createTestDatabase, type TestDatabase } from './test-database';
import { TEST_MIN_FREE_DISK } from './test-settings';
import { waitFor } from './wait-for';

export type ServiceName = 'watcher' | 'processor' | 'ingest-api' | 'query-api';
const PORT_VARS: Record<ServiceName, string> = {
  watcher: 'WATCHER_PORT',
  processor: 'PROCESSOR_PORT',
  'ingest-api': 'INGEST_API_PORT',
  'query-api': 'QUERY_API_PORT',
};

export const WORKSPACE_ROOT = resolve(__dirname, '../../../..');

/** V8 flags a service is deployed with (as tools/scripts/start.mjs, docker-compose.yml and its nx serve target give them). */
const SERVICE_NODE_ARGS: Partial<Record<ServiceName, string[]>> = { 'ingest-api': ['--max-semi-space-size=2'], processor: ['--max-semi-space-size=8'] };

/** Node flags for a service process, plus STACK_NODE_ARGS for every one (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
const nodeArgs = (name: ServiceName): string[] => [...(SERVICE_NODE_ARGS[name] ?? []), ...(process.env['STACK_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])];

export interface StackOptions {
  label: string;
  services?: ServiceName[];
  processors?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for the copies of one service (after `env`). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** A private nats-server (needed to restart or kill NATS); otherwise the shared one with its own namespace. */
  privateNats?: boolean;
  /** Where service logs go; default a temp folder (kept on failure for reading). */
  logDir?: string;
  /** NATS the services use (e.g. a cluster's URL list) instead of the shared or a private server. */
  natsUrl?: string;
  /** PostgreSQL server the test database is created on (default TEST_PG_URL). */
  pgServerUrl?: string;
  /** An existing drop folder (e.g. a small tmpfs); the stack empties it on stop but leaves the folder. */
  dropzone?: string;
  /** Copies of each service (processors also via `processors`). */
  replicas?: Partial<Record<ServiceName, number>>;
}

interface Running {
  name: ServiceName;
  port: number;
  proc: ChildProcess;
}

/**
 * The built services (dist/apps) started as real processes against a database, a NATS namespace and a
 * drop folder of their own. Tests drive them only through the folder, HTTP and the database, and may kill
 * any process with SIGKILL.
 */
export class Stack {
  readonly queryKey = 'test-query-key';
  readonly ingestKey = 'test-ingest-key';
  private readonly running: Running[] = [];

  private constructor(
    readonly opts: StackOptions,
    readonly db: TestDatabase,
    readonly pool: Pool,
    readonly natsUrl: string,
    readonly namespace: string,
    readonly dropzone: string,
    readonly logDir: string,
    readonly nats: PrivateNatsServer | null,
  ) {}

  static async start(opts: StackOptions): Promise<Stack> {
    const db = await createTestDatabase(opts.label, opts.pgServerUrl);
    const nats = opts.privateNats ? await startPrivateNats() : null;
    const dropzone = opts.dropzone ?? mkdtempSync(join(tmpdir(), `sluice-${opts.label}-`));
    const logDir = opts.logDir ?? join(dropzone, '..', `${dropzone.split('/').pop()}-logs`);
    mkdirSync(logDir, { recursive: true });
    const pool = new Pool({ connectionString: db.url, max: 4 });
    // An idle client whose server went away (a restart, pg_terminate_backend in fault tests) is dropped, not fatal.
    pool.on('error', () => undefined);
    const stack = new Stack(
      opts,
      db,
      pool,
      opts.natsUrl ?? nats?.url ?? SHARED_NATS_URL,
      testNamespace(opts.label),
      dropzone,
      logDir,
      nats,
    );
    const services = opts.services ?? ['watcher', 'processor', 'query-api'];
    try {
      for (const name of services) {
        const copies = opts.replicas?.[name] ?? (name === 'processor' ? (opts.processors ?? 1) : 1);
        for (let i = 0; i < copies; i++) await stack.startService(name);
      }
    } catch (e) {
      // Nothing started is left running when a service does not come up.
      await stack.stop().catch(() => undefined);
      throw e;
    }
    return stack;
  }

  env(port: number, name: ServiceName): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      DATABASE_URL: this.db.url,
      NATS_URL: this.natsUrl,
      NATS_NAMESPACE: this.namespace,
      DROPZONE_DIR: this.dropzone,
      QUERY_API_KEYS: this.queryKey,
      INGEST_API_KEYS: this.ingestKey,
      LOG_LEVEL: 'info',
      STABILITY_WINDOW_MS: '300',
      RESCAN_INTERVAL_MS: '2000',
      ACK_WAIT_MS: '5000',
      MIN_FREE_DISK: TEST_MIN_FREE_DISK,
      CONTRACTS_DIR: this.contractsDir,
      ...this.opts.env,
      ...this.opts.serviceEnv?.[name],
      [PORT_VARS[name]]: String(port),
    };
  }

  /** Starts one more process of a service and waits until /health/ready answers. Returns its index. */
  async startService(name: ServiceName): Promise<number> {
    const main = join(WORKSPACE_ROOT, 'dist/apps', name, 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: build the apps first (nx run-many -t build)`);
    const port = await freePort();
    const index = this.running.filter((r) => r.name === name).length;
    const log = createWriteStream(join(this.logDir, `${name}-${index}.log`), { flags: 'a' });
    const proc = spawn(process.execPath, [...nodeArgs(name), main], { cwd: WORKSPACE_ROOT, env: this.env(port, name), stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    this.running.push({ name, port, proc });
    await this.waitReady(name, index);
    return index;
  }

  private find(name: ServiceName, index = 0): Running {
    const r = this.running.filter((x) => x.name === name)[index];
    if (!r) throw new Error(`no ${name} #${index}`);
    return r;
  }

  url(name: ServiceName, index = 0): string {
    return `http://127.0.0.1:${this.find(name, index).port}`;
  }

  pid(name: ServiceName, index = 0): number | undefined {
    return this.find(name, index).proc.pid;
  }

  /** Every started process: its service, index among that service's copies, and whether it is running. */
  processes(): Array<{ name: ServiceName; index: number; alive: boolean; pid: number | undefined; exit: string }> {
    return this.running.map((r) => ({
      name: r.name,
      index: this.running.filter((x) => x.name === r.name).indexOf(r),
      alive: r.proc.exitCode === null && r.proc.signalCode === null,
      pid: r.proc.pid,
      exit: r.proc.signalCode ?? `exit code ${r.proc.exitCode}`,
    }));
  }

  /** Sends a signal that does not end the process (SIGSTOP, SIGCONT). */
  signal(name: ServiceName, index: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.find(name, index).proc.kill(signal);
  }

  async waitReady(name: ServiceName, index = 0, timeoutMs = 90000): Promise<void> {
    const r = this.find(name, index);
    await waitFor(`${name} ready`, async () => {
      if (r.proc.exitCode !== null) throw new Error(`${name} exited with ${r.proc.exitCode}; see ${this.logDir}`);
      const res = await fetch(`http://127.0.0.1:${r.port}/health/ready`).catch(() => null);
      return res?.ok ?? false;
    }, timeoutMs);
  }

  /** Sends a signal and waits for the process to end. */
  async kill(name: ServiceName, index = 0, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const r = this.find(name, index);
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) return r.proc.exitCode;
    const proc = r.proc;
    const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
    proc.kill(signal);
    // A process that ignores a polite signal is killed after 15 s, so a test never hangs on it.
    const force = signal === 'SIGKILL' ? undefined : setTimeout(() => proc.kill('SIGKILL'), 15000);
    const code = await exited;
    if (force) clearTimeout(force);
    return code;
  }

  /** Starts a killed process again on the same port. */
  async restart(name: ServiceName, index = 0): Promise<void> {
    const r = this.find(name, index);
    const log = createWriteStream(join(this.logDir, `${name}-${index}.log`), { flags: 'a' });
    r.proc = spawn(process.execPath, [...nodeArgs(name), join(WORKSPACE_ROOT, 'dist/apps', name, 'main.js')], {
      cwd: WORKSPACE_ROOT,
      env: this.env(r.port, name),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    r.proc.stdout?.pipe(log);
    r.proc.stderr?.pipe(log);
    await this.waitReady(name, index);
  }

  /**
   * The stack's own contracts folder (CONTRACTS_DIR, unless `env` names another): beside the drop folder, as the
   * default is, but one per stack, so stacks in one temp folder never read each other's contracts.
   */
  get contractsDir(): string {
    return this.opts.env?.['CONTRACTS_DIR'] ?? `${this.dropzone}-contracts`;
  }

  /** Writes a file next to the drop folder and renames it in, as a well-behaved writer does. */
  drop(name: string, write: (path: string) => void): void {
    const staging = mkdtempSync(join(this.dropzone, '..', 'staging-'));
    write(join(staging, name));
    renameSync(join(staging, name), join(this.dropzone, 'incoming', name));
    rmSync(staging, { recursive: true, force: true });
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }

  async count(table: string): Promise<number> {
    const rows = await this.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(rows[0].n);
  }

  /** Resolves when `n` ledger rows are terminal, returning the status counts. */
  async waitForTerminal(n: number, timeoutMs = 120000): Promise<Record<string, number>> {
    return waitFor(`${n} files terminal`, async () => {
      const rows = await this.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM ingest_files GROUP BY status`);
      const counts = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      const terminal = (counts['processed'] ?? 0) + (counts['duplicate'] ?? 0) + (counts['quarantined'] ?? 0) + (counts['failed'] ?? 0);
      return terminal >= n ? counts : null;
    }, timeoutMs, 200);
  }

  async stop(): Promise<void> {
    // A stopped process would hold SIGTERM until continued.
    for (const r of this.running) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGCONT');
    await Promise.all(this.running.map((r) => this.kill(r.name, this.running.filter((x) => x.name === r.name).indexOf(r), 'SIGTERM')));
    await this.pool.end();
    // A private server goes with its store; on the shared one the namespace's stream would stay behind.
    if (this.nats) await this.nats.dispose();
    else await deleteNamespaceStream(this.natsUrl, this.namespace).catch(() => undefined);
    await this.db.drop();
    if (!this.opts.dropzone) rmSync(this.dropzone, { recursive: true, force: true });
    else for (const entry of readdirSync(this.dropzone)) rmSync(join(this.dropzone, entry), { recursive: true, force: true });
    if (!this.opts.env?.['CONTRACTS_DIR']) rmSync(this.contractsDir, { recursive: true, force: true });
  }
}
