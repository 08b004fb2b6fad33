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

  /** `throughPipe`: as `npm start 2>&1 | cat` typed in a terminal (the pipe's reader is in the same process group). */
  constructor(env: Record<string, string>, throughPipe = false, flags = ['--no-build']) {
    // A process group of its own, as a terminal gives it, so a test can kill the launcher with its services.
    const [cmd, args] = throughPipe ? ['bash', ['-c', `"${process.execPath}" "${START}" ${flags.join(' ')} 2>&1 | cat`]] : [process.execPath, [START, ...flags]];
    this.proc = spawn(cmd, args, { cwd: WORKSPACE_ROOT, env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
      return this.out.includes('Sluice is running.') || this.out.includes('PostgreSQL and NATS are running.');
    }, 240000, 250);
  }

  /** Ctrl-C, then the exit code. */
  async interrupt(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGINT');
    return this.exited;
  }
}

/** Processes whose command line names `dir` (postgres -D, nats-server -sd, the launcher's reaper), with their pids. */
const pidsUsing = (dir: string): { pid: number; cmd: string }[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return { pid: Number(p), cmd: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') };
      } catch {
        return { pid: Number(p), cmd: '' };
      }
    })
    .filter(({ cmd }) => cmd.includes(dir));
const processesUsing = (dir: string): string[] => pidsUsing(dir).map(({ cmd }) => cmd);

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
    // The reaper ends within a moment of the launcher.
    await waitFor('no process of this start left', async () => processesUsing(home).length === 0, 10000).catch(() => undefined);
    expect(processesUsing(home)).toEqual([]);
    expect(existsSync(join(home, 'postgres', 'postmaster.pid'))).toBe(false); // a clean PostgreSQL shutdown
  }

  /** The launcher's last line names what it stopped: the four services (in the order they ended), then NATS and PostgreSQL. */
  function expectStoppedLine(stdout: string): void {
    const last = stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^• stopped .*, the nats-server, the embedded PostgreSQL$/);
    for (const name of ['watcher', 'processor', 'ingest-api', 'query-api']) expect(last).toContain(name);
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
    // Where PostgreSQL and NATS are, printed and kept in a file another shell can source.
    expect(launcher.stdout).toContain(`DATABASE_URL  ${dbUrl()}`);
    expect(launcher.stdout).toContain(`NATS_URL      nats://127.0.0.1:${env['SLUICE_NATS_PORT']}`);
    expect(readFileSync(join(home, 'env'), 'utf8')).toBe(
      `export DATABASE_URL='${dbUrl()}'\nexport NATS_URL='nats://127.0.0.1:${env['SLUICE_NATS_PORT']}'\nexport DROPZONE_DIR='${env['DROPZONE_DIR']}'\n`,
    );

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

  it('npm run services runs only PostgreSQL and NATS, migrated, until Ctrl-C', async () => {
    const launcher = new Launcher(env, false, ['--services-only']);
    launchers.push(launcher);
    await launcher.running();
    expect(await count('SELECT count(*) AS n FROM ingest_files')).toBe(firstRun['ingest_files']);
    for (const port of ports.slice(2)) expect(await listening(port)).toBe(false);
    expect(launcher.stdout).toContain(`env file      ${join(home, 'env')}`);
    expect(await launcher.interrupt()).toBe(0);
    await expectAllStopped();
    expect(launcher.stdout.trimEnd().split('\n').at(-1)).toBe('• stopped the nats-server, the embedded PostgreSQL');
  });

  it.each([
    ['Ctrl-C through a pipe (npm start 2>&1 | cat)', true, (l: Launcher) => process.kill(-l.proc.pid!, 'SIGINT')],
    ['SIGTERM to the launcher', false, (l: Launcher) => process.kill(l.proc.pid!, 'SIGTERM')],
    ['SIGHUP to its process group (the terminal closed)', false, (l: Launcher) => process.kill(-l.proc.pid!, 'SIGHUP')],
  ])('stops everything it started on %s, and says what in its last line', async (_how, throughPipe, stop) => {
    const launcher = new Launcher(env, throughPipe);
    launchers.push(launcher);
    await launcher.running();
    stop(launcher);
    await launcher.exited;
    await expectAllStopped();
    // Through a pipe, the reader (cat, tee) ends at the Ctrl-C too: the last line is in the launcher's log.
    if (throughPipe) {
      const log = readFileSync(join(home, 'logs', 'launcher.log'), 'utf8').trimEnd().split('\n');
      expectStoppedLine(`• ${log.at(-1)?.replace(/^.*?npm start \(pid \d+\) /, '')}`);
    } else expectStoppedLine(launcher.stdout);
  });

  it('after kill -9 of the launcher, its reaper stops the services, NATS and PostgreSQL, and logs what it stopped', async () => {
    const launcher = start();
    await launcher.running();
    process.kill(launcher.proc.pid!, 'SIGKILL');
    await launcher.exited;
    await waitFor('the reaper to stop everything', async () => (await Promise.all(ports.map(listening))).every((open) => !open), 60000);
    await expectAllStopped();
    expect(readFileSync(join(home, 'logs', 'launcher.log'), 'utf8')).toMatch(
      new RegExp(`npm start \\(pid ${launcher.proc.pid}\\) ended without stopping what it started; stopped .*query-api.*; the nats-server \\(pid \\d+\\); the embedded PostgreSQL \\(pid \\d+\\)`),
    );
  });

  it('adopts the PostgreSQL and nats-server a killed npm start (and its reaper) left running, and stops them on Ctrl-C', async () => {
    const killed = start();
    await killed.running();
    const reaper = pidsUsing(home).find(({ cmd }) => cmd.includes('reaper.mjs'));
    expect(reaper).toBeDefined();
    process.kill(reaper!.pid, 'SIGKILL');
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
    expectStoppedLine(launcher.stdout);
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
