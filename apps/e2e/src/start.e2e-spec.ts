import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { streamName } from '@sluice/contracts';
import { FIXTURES, freePort, isListening as listening, waitFor, WORKSPACE_ROOT } from '@sluice/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

const START = join(WORKSPACE_ROOT, 'tools/scripts/start.mjs');

/** `npm start` as a process, with only the environment given (no DATABASE_URL / NATS_URL unless set). */
class Launcher {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private out = '';
  private err = '';

  constructor(env: Record<string, string>) {
    // A process group of its own, as a terminal gives it, so a test can kill the launcher with its services.
    this.proc = spawn(process.execPath, [START, '--no-build'], { cwd: WORKSPACE_ROOT, env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc.stdout?.on('data', (b: Buffer) => (this.out += b.toString()));
    this.proc.stderr?.on('data', (b: Buffer) => (this.err += b.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }

  async running(): Promise<void> {
    await waitFor('npm start to be running', async () => {
      if (this.proc.exitCode !== null) throw new Error(`npm start exited with ${this.proc.exitCode}:\n${this.out}\n${this.err}`);
      return this.out.includes('Sluice is running.');
    }, 240000, 250);
  }

  /** Ctrl-C, then the exit code. */
  async interrupt(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGINT');
    return this.exited;
  }
}

/** Processes whose command line names `dir` (postgres -D, nats-server -sd). */
const processesUsing = (dir: string): string[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })
    .filter((cmd) => cmd.includes(dir));

describe('npm start with nothing answering at the default PostgreSQL and NATS addresses', () => {
  let home: string;
  let env: Record<string, string>;
  let ports: number[];
  const launchers: Launcher[] = [];
  const start = () => {
    const launcher = new Launcher(env);
    launchers.push(launcher);
    return launcher;
  };
  const dbUrl = () => `postgres://postgres@127.0.0.1:${env['SLUICE_PG_PORT']}/sluice`;
  const seeds = [...readdirSync(join(FIXTURES, 'sensors')).map((f) => join(FIXTURES, 'sensors', f)), ...readdirSync(join(FIXTURES, 'json')).map((f) => join(FIXTURES, 'json', f))];

  async function count(sql: string): Promise<number> {
    const client = new Client({ connectionString: dbUrl() });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sql)).rows[0].n);
    } finally {
      await client.end();
    }
  }

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of ['ingest_files', 'raw_sensor_data', 'aggregated_metrics', 'measurements', 'vehicles_status', 'detection_events']) {
      out[table] = await count(`SELECT count(*) AS n FROM ${table}`);
    }
    return out;
  }

  async function lastStreamSequence(): Promise<number> {
    const nc = await connect({ servers: `nats://127.0.0.1:${env['SLUICE_NATS_PORT']}` });
    try {
      return (await (await jetstreamManager(nc)).streams.info(streamName('sluice'))).state.last_seq;
    } finally {
      await nc.close();
    }
  }

  async function expectAllStopped(): Promise<void> {
    for (const port of ports) expect(await listening(port)).toBe(false);
    expect(processesUsing(home)).toEqual([]);
    expect(existsSync(join(home, 'postgres', 'postmaster.pid'))).toBe(false); // a clean PostgreSQL shutdown
  }

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sluice-start-'));
    chmodSync(home, 0o755); // run as root, the embedded PostgreSQL runs as the user postgres, who must reach it
    const [pg, nats, watcher, processor, ingest, query] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    ports = [pg, nats, watcher, processor, ingest, query];
    env = {
      SLUICE_HOME: home,
      SLUICE_PG_PORT: String(pg),
      SLUICE_NATS_PORT: String(nats),
      DROPZONE_DIR: join(home, 'dropzone'),
      WATCHER_PORT: String(watcher),
      PROCESSOR_PORT: String(processor),
      INGEST_API_PORT: String(ingest),
      QUERY_API_PORT: String(query),
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    for (const launcher of launchers) await launcher.interrupt();
    rmSync(home, { recursive: true, force: true });
  });

  let firstRun: Record<string, number>;
  let firstSequence: number;

  it('runs an embedded PostgreSQL and nats-server, loads the seed files, and stops both on Ctrl-C', async () => {
    const launcher = start();
    await launcher.running();
    expect(launcher.stdout).toContain(`starting the embedded PostgreSQL on 127.0.0.1:${env['SLUICE_PG_PORT']}`);
    expect(launcher.stdout).toContain(`starting nats-server -js on 127.0.0.1:${env['SLUICE_NATS_PORT']}`);

    const staging = join(home, 'staging');
    mkdirSync(staging);
    for (const file of seeds) {
      const name = file.split('/').pop()!;
      copyFileSync(file, join(staging, name));
      renameSync(join(staging, name), join(env['DROPZONE_DIR'], 'incoming', name));
    }
    // A file's rows commit with its terminal status: counted once every file is terminal, they are final.
    const terminal = `SELECT count(*) AS n FROM ingest_files WHERE status IN ('processed', 'duplicate', 'quarantined', 'failed')`;
    await waitFor('every seed file terminal', async () => (await count(terminal)) === seeds.length, 180000, 500);
    firstRun = await counts();
    expect(firstRun['ingest_files']).toBe(seeds.length);
    expect(firstRun['raw_sensor_data']).toBeGreaterThan(0);
    expect(firstRun['aggregated_metrics']).toBeGreaterThan(0);
    expect(firstRun['measurements']).toBe(2); // json/payload.json and one line of json/lines.ndjson
    expect(firstRun['vehicles_status']).toBeGreaterThan(0);
    expect(firstRun['detection_events']).toBeGreaterThan(0);
    firstSequence = await lastStreamSequence();
    expect(firstSequence).toBeGreaterThanOrEqual(seeds.length);

    expect(await launcher.interrupt()).toBe(0);
    await expectAllStopped();
  });

  it('finds the data again on the next start', async () => {
    const launcher = start();
    await launcher.running();
    expect(launcher.stdout).not.toContain('initialising the embedded PostgreSQL');
    expect(await counts()).toEqual(firstRun);
    expect(await lastStreamSequence()).toBeGreaterThanOrEqual(firstSequence);

    expect(await launcher.interrupt()).toBe(0);
    await expectAllStopped();
  });

  it('adopts the PostgreSQL and nats-server a killed npm start left running, and stops them on Ctrl-C', async () => {
    const killed = start();
    await killed.running();
    process.kill(-killed.proc.pid!, 'SIGKILL'); // the launcher and its services, as when its terminal is killed
    await killed.exited;
    expect(await listening(Number(env['SLUICE_PG_PORT']))).toBe(true);
    expect(await listening(Number(env['SLUICE_NATS_PORT']))).toBe(true);

    const servicePorts = ports.slice(2);
    await waitFor('the killed services to be gone', async () => (await Promise.all(servicePorts.map(listening))).every((open) => !open), 30000);

    const launcher = start();
    await launcher.running();
    expect(launcher.stdout).toContain('using the embedded PostgreSQL an earlier npm start left running');
    expect(launcher.stdout).toContain('using the nats-server an earlier npm start left running');
    expect(await counts()).toEqual(firstRun);

    expect(await launcher.interrupt()).toBe(0);
    await expectAllStopped();
  });

});

describe('npm start with bad configuration says so in one line and starts nothing', () => {
  let home: string;
  let pgPort: number;
  let natsPort: number;
  let nowhere: number;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sluice-start-bad-'));
    [pgPort, natsPort, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  async function fails(env: Record<string, string>): Promise<string> {
    const launcher = new Launcher({ SLUICE_HOME: home, SLUICE_PG_PORT: String(pgPort), SLUICE_NATS_PORT: String(natsPort), ...env });
    expect(await launcher.exited).toBe(1);
    expect(launcher.stdout).toBe('');
    expect(launcher.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(home, 'postgres'))).toBe(false);
    expect(await listening(pgPort)).toBe(false);
    expect(await listening(natsPort)).toBe(false);
    return launcher.stderr;
  }

  it('an explicit DATABASE_URL that does not answer is an error, never replaced by an embedded one', async () => {
    const stderr = await fails({ DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${nowhere}/sluice` });
    expect(stderr).toBe(`✗ DATABASE_URL postgres://postgres:***@127.0.0.1:${nowhere}/sluice: no PostgreSQL answers there (ECONNREFUSED); start it, or unset DATABASE_URL to let npm start use or run a local one\n`);
  });

  it('an explicit NATS_URL that does not answer is an error, never replaced by a local nats-server', async () => {
    const stderr = await fails({ NATS_URL: `nats://127.0.0.1:${nowhere}` });
    expect(stderr).toBe(`✗ NATS_URL nats://127.0.0.1:${nowhere}: no NATS server answers there (ECONNREFUSED); start it, or unset NATS_URL to let npm start use or run a local one\n`);
  });

  it('a malformed URL or port names the variable', async () => {
    expect(await fails({ DATABASE_URL: 'mysql://db/sluice' })).toBe('✗ DATABASE_URL ("mysql://db/sluice"): must start with postgres:// or postgresql://\n');
    expect(await fails({ SLUICE_NATS_PORT: '70000' })).toBe('✗ SLUICE_NATS_PORT ("70000"): must be a port number (1-65535)\n');
  });

  it('without nats-server on the PATH it says how to get one', async () => {
    const emptyPath = mkdtempSync(join(tmpdir(), 'sluice-path-'));
    try {
      const stderr = await fails({ PATH: emptyPath });
      expect(stderr).toMatch(/^✗ NATS_URL is not set and nothing answers at nats:\/\/127\.0\.0\.1:\d+, so npm start would run\nnats-server itself, but there is none on the PATH/);
      expect(stderr).toContain('apt-get install nats-server');
      expect(stderr).toContain('brew install nats-server');
      expect(stderr).toContain('docker compose up');
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
    }
  });
});
