import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createTestDatabase, deleteNamespaceStream, freePort, SHARED_NATS_URL, testNamespace, waitFor, WORKSPACE_ROOT, type TestDatabase } from '@sluice/testing';
import { fixturePaths, isRepeatableRead, readmeCommands, type ReadmeCommand } from './support/readme-commands';

/**
 * The README, executed. Its shell blocks run one by one in one bash session, in a copy of the repository's
 * files (as a fresh clone has them), against a database and NATS namespace of their own, exactly as written
 * but for three things a parallel test run needs: the services' ports are free ports (`localhost:3002` and
 * `PROCESSOR_PORT=4004` are rewritten, and the documented `*_PORT` and `QUERY_API_URL` variables set),
 * `npm ci` is left out (node_modules is linked in), and "Ctrl-C" is a SIGINT to the command's process group.
 */
const README = join(WORKSPACE_ROOT, 'README.md');
const SECTIONS = ['Quick start', 'Send data over REST (ingest-api)', 'CLI', 'Run one service'];
const COMMAND_TIMEOUT_MS = 10 * 60_000;
const READ_RETRY_MS = 60_000;

interface Background {
  command: ReadmeCommand;
  pgid: number;
  out: string;
}

/** One bash process, driven command by command; variables set by one command stay for the next. */
class ShellSession {
  private readonly bash: ChildProcess;
  private n = 0;
  readonly background: Background[] = [];

  constructor(
    readonly cwd: string,
    env: NodeJS.ProcessEnv,
    private readonly scratch: string,
  ) {
    // Job control gives every background command a process group of its own, as a terminal does.
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'ignore', 'ignore'] });
    this.bash.stdin?.write('set -m\n');
  }

  /** Runs a command to its end; returns its exit code and everything it printed. */
  async run(text: string): Promise<{ code: number; out: string }> {
    const { out, rc } = this.files();
    this.bash.stdin?.write(`{\n${text}\n} > ${out} 2>&1 < /dev/null; echo $? > ${rc}.tmp; mv ${rc}.tmp ${rc}\n`);
    // An object: exit code 0 would read as "not yet".
    const { code } = await waitFor(`"${text.split('\n')[0]}" to end`, async () => (existsSync(rc) ? { code: Number(readFileSync(rc, 'utf8').trim()) } : null), COMMAND_TIMEOUT_MS, 200);
    return { code, out: readFileSync(out, 'utf8') };
  }

  /** Starts a command that runs until Ctrl-C and waits until it has printed `expect`. */
  async start(command: ReadmeCommand, text: string): Promise<Background> {
    const { out, rc } = this.files();
    const pidFile = `${rc}.pid`;
    this.bash.stdin?.write(`{\n${text}\n} > ${out} 2>&1 < /dev/null &\necho $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}\n`);
    const pgid = await waitFor('background pid', async () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null), 10_000, 100);
    const job: Background = { command, pgid, out };
    this.background.push(job);
    await waitFor(`"${text.split('\n')[0]}" to print ${JSON.stringify(command.expect)}`, async () => {
      const printed = readFileSync(out, 'utf8');
      if (!isAlive(pgid)) throw new Error(`it ended early:\n${printed.slice(-3000)}`);
      return missing(printed, command.expect).length === 0;
    }, COMMAND_TIMEOUT_MS, 500);
    return job;
  }

  /** Ctrl-C: SIGINT to the command's process group; resolves when the group is gone. */
  async interrupt(job: Background): Promise<void> {
    signalGroup(job.pgid, 'SIGINT');
    await waitFor(`"${job.command.text.split('\n')[0]}" to stop on Ctrl-C`, async () => !isAlive(job.pgid), 60_000, 200);
    this.background.splice(this.background.indexOf(job), 1);
  }

  async close(): Promise<void> {
    for (const job of this.background) signalGroup(job.pgid, 'SIGKILL');
    this.bash.stdin?.end('exit\n');
    await new Promise((r) => (this.bash.exitCode === null ? this.bash.once('exit', r) : r(null)));
  }

  private files(): { out: string; rc: string } {
    this.n += 1;
    return { out: join(this.scratch, `cmd-${this.n}.out`), rc: join(this.scratch, `cmd-${this.n}.rc`) };
  }
}

function isAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const missing = (printed: string, expect: string[]): string[] => expect.filter((part) => !printed.includes(part));

/** The tracked files of the repository as they are in the working tree (a fresh clone of this commit, plus local edits). */
function copyRepository(to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    const from = join(WORKSPACE_ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(from, join(to, file));
  }
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(to, 'node_modules'));
}

describe('README, executed', () => {
  const markdown = readFileSync(README, 'utf8');
  const commands = readmeCommands(markdown, SECTIONS);
  let root: string;
  let scratch: string;
  let db: TestDatabase;
  let shell: ShellSession;
  const namespace = testNamespace('readme');
  const ports: Record<string, number> = {};
  let stack: Background | undefined;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
    scratch = mkdtempSync(join(tmpdir(), 'sluice-readme-out-'));
    copyRepository(root);
    db = await createTestDatabase('readme');
    for (const p of [3001, 3002, 3003, 3004, 4004]) ports[p] = await freePort();
    shell = new ShellSession(
      root,
      {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        // Nx in CI mode, as .ci/run and npm test run it (no daemon, no cloud, no terminal UI).
        NX_DAEMON: 'false',
        NX_NO_CLOUD: 'true',
        NX_TUI: 'false',
        NX_INTERACTIVE: 'false',
        // The documented variables, and nothing else.
        DATABASE_URL: db.url,
        NATS_URL: SHARED_NATS_URL,
        NATS_NAMESPACE: namespace,
        INGEST_API_PORT: String(ports[3001]),
        QUERY_API_PORT: String(ports[3002]),
        WATCHER_PORT: String(ports[3003]),
        PROCESSOR_PORT: String(ports[3004]),
        QUERY_API_URL: `http://localhost:${ports[3002]}`,
      },
      scratch,
    );
  });

  afterAll(async () => {
    await shell?.close();
    await deleteNamespaceStream(SHARED_NATS_URL, namespace).catch(() => undefined);
    await db?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** The command as the test types it: the same text on this run's ports. */
  const typed = (c: ReadmeCommand): string =>
    c.text.replace(/localhost:(300[1-4])\b/g, (_, p: string) => `localhost:${ports[Number(p)]}`).replace(/\bPROCESSOR_PORT=4004\b/g, `PROCESSOR_PORT=${ports[4004]}`);

  async function runCommand(c: ReadmeCommand): Promise<void> {
    if (c.text.trim() === 'npm ci') return; // node_modules is linked in
    const text = typed(c);
    if (c.untilCtrlC) {
      const job = await shell.start(c, text);
      // npm start runs under the next sections (stopped before "Run one service"); npm run services under the rest of its section.
      if (/^npm (start|run services)\b/.test(c.text)) stack = job;
      else await shell.interrupt(job);
      return;
    }
    const deadline = Date.now() + READ_RETRY_MS;
    for (;;) {
      const { code, out } = await shell.run(text);
      const absent = missing(out, c.expect);
      if (code === 0 && absent.length === 0) return;
      if (!isRepeatableRead(c.text) || Date.now() > deadline) {
        throw new Error(`README command failed (exit ${code}${absent.length ? `; missing ${JSON.stringify(absent)}` : ''}):\n${c.text}\n--- output ---\n${out.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  it('names only files that are in the repository, and has commands in every section it documents', () => {
    for (const path of fixturePaths(markdown)) expect({ path, exists: existsSync(join(WORKSPACE_ROOT, path)) }).toEqual({ path, exists: true });
    for (const section of SECTIONS) expect(commands.filter((c) => c.section === section).length).toBeGreaterThan(0);
  });

  for (const section of SECTIONS) {
    it(`runs every command of "${section}" as written`, async () => {
      if (section === 'Run one service' && stack) {
        // "Stop npm start first (Ctrl-C)": it stops every service and ends.
        const job = stack;
        stack = undefined;
        await shell.interrupt(job);
        expect(readFileSync(job.out, 'utf8')).toContain('stopping');
      }
      for (const c of commands.filter((x) => x.section === section)) await runCommand(c);
      if (section === 'Run one service' && stack) {
        const job = stack;
        stack = undefined;
        await shell.interrupt(job);
        // The test gives DATABASE_URL and NATS_URL: npm run services used them and leaves them running.
        expect(readFileSync(job.out, 'utf8')).toContain('• nothing to stop: PostgreSQL and NATS were not started here and keep running');
      }
    }, 30 * 60_000);
  }
});
