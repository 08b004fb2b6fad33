import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isTerminal, type FileStatus } from '@sluice/contracts';
import { waitFor, WORKSPACE_ROOT } from '@sluice/testing';
import { EXAMPLE_KINDS, formatExamples } from './support/formats-examples';
import { fixturePaths, isRepeatableRead, readmeCommands, type ReadmeCommand } from './support/readme-commands';

/**
 * The README, executed. Its shell blocks run one by one in one bash session, in a copy of the repository's
 * files (as a fresh clone has them), in a network namespace of its own where nothing listens: as on a clean
 * machine, the default ports are free and no PostgreSQL or NATS answers, so `npm start` and `npm run services`
 * start their own (embedded PostgreSQL, nats-server from the PATH, data in `.sluice/`) and the commands run
 * exactly as written, with no DATABASE_URL or NATS_URL given, but for two things: `npm ci` is left out
 * (node_modules is linked in), and "Ctrl-C" is a SIGINT to the command's process group. Then the examples of
 * docs/formats.md are dropped into a stack of their own started the same way. Whenever a launcher has been
 * stopped, nothing it started may be left running: the namespace must hold the shell alone.
 *
 * The namespace needs `unshare -n` (util-linux) and `ip` (iproute2), as root: without them the test fails
 * saying which is missing.
 */
const README = join(WORKSPACE_ROOT, 'README.md');
const FORMATS_DOC = join(WORKSPACE_ROOT, 'docs/formats.md');
const SECTIONS = ['Quick start', 'Send data over REST (ingest-api)', 'CLI', 'Your own data', 'Run one service'];
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
  private netns: string | undefined;
  readonly background: Background[] = [];

  constructor(
    readonly cwd: string,
    env: NodeJS.ProcessEnv,
    private readonly scratch: string,
  ) {
    // A network namespace of its own, with only its loopback interface, up; unshare execs bash (same pid).
    this.bash = spawn('unshare', ['-n', 'bash', '--noprofile', '--norc', '-c', 'ip link set lo up && exec bash --noprofile --norc'], { cwd, env, stdio: ['pipe', 'ignore', 'ignore'] });
    this.bash.stdin?.on('error', () => undefined); // a shell that ended: run() says so
    // Job control gives every background command a process group of its own, as a terminal does.
    this.bash.stdin?.write('set -m\n');
  }

  /** The shell's network namespace (known once it has run a command). */
  namespace(): string {
    this.netns ??= readlinkSync(`/proc/${this.bash.pid}/ns/net`);
    return this.netns;
  }

  /** The processes of the shell's network namespace other than the shell itself. */
  others(): { pid: number; cmd: string }[] {
    return processesIn(this.namespace()).filter((p) => p.pid !== this.bash.pid);
  }

  /** Runs a command to its end; returns its exit code and everything it printed. */
  async run(text: string): Promise<{ code: number; out: string }> {
    const { out, rc } = this.files();
    this.bash.stdin?.write(`{\n${text}\n} > ${out} 2>&1 < /dev/null; echo $? > ${rc}.tmp; mv ${rc}.tmp ${rc}\n`);
    // An object: exit code 0 would read as "not yet".
    const { code } = await waitFor(`"${text.split('\n')[0]}" to end`, async () => {
      if (existsSync(rc)) return { code: Number(readFileSync(rc, 'utf8').trim()) };
      return this.bash.exitCode === null && this.bash.signalCode === null ? null : { code: NaN };
    }, COMMAND_TIMEOUT_MS, 200);
    if (Number.isNaN(code)) throw new Error(`the shell ended (${this.bash.exitCode ?? this.bash.signalCode}) before "${text.split('\n')[0]}" did`);
    return { code, out: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  /** Starts a command that runs until Ctrl-C and waits until it has printed `expect`. */
  async start(command: ReadmeCommand, text: string): Promise<Background> {
    const { out, rc } = this.files();
    const pidFile = `${rc}.pid`;
    this.bash.stdin?.write(`{\n${text}\n} > ${out} 2>&1 < /dev/null &\necho $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}\n`);
    const pgid = await waitFor('background pid', async () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null), 10_000, 100);
    const job: Background = { command, pgid, out };
    this.background.push(job);
    const state = await waitFor(`"${text.split('\n')[0]}" to print ${JSON.stringify(command.expect)}`, async () => {
      const printed = readFileSync(out, 'utf8');
      if (missing(printed, command.expect).length === 0) return 'printed';
      return isAlive(pgid) ? null : 'ended';
    }, COMMAND_TIMEOUT_MS, 500);
    if (state === 'ended') {
      this.background.splice(this.background.indexOf(job), 1);
      throw new Error(`README command ended before it printed ${JSON.stringify(missing(readFileSync(out, 'utf8'), command.expect))}:\n${text}\n--- output ---\n${readFileSync(out, 'utf8').slice(-4000)}`);
    }
    return job;
  }

  /** Ctrl-C: SIGINT to the command's process group; resolves when the group is gone. */
  async interrupt(job: Background): Promise<void> {
    signalGroup(job.pgid, 'SIGINT');
    await waitFor(`"${job.command.text.split('\n')[0]}" to stop on Ctrl-C`, async () => !isAlive(job.pgid), 60_000, 200);
    this.background.splice(this.background.indexOf(job), 1);
  }

  /** Ends the session and, should a failed run have left any, every process of its namespace. */
  async close(): Promise<void> {
    for (const job of this.background) signalGroup(job.pgid, 'SIGKILL');
    if (this.netns) for (const p of this.others()) signalPid(p.pid, 'SIGKILL');
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

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const missing = (printed: string, expect: string[]): string[] => expect.filter((part) => !printed.includes(part));

/** Every process whose network namespace is `netns`, with its command line. */
function processesIn(netns: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) !== netns) continue;
      found.push({ pid: Number(entry), cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

/** Why a private network namespace cannot be made here, or null when it can. */
function namespaceProblem(): string | null {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
  const need = 'the README test runs the README in a network namespace of its own (unshare -n, from util-linux; ip, from iproute2; as root)';
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return `${need}, but unshare is not on the PATH`;
  if (r.error) return `${need}, but unshare could not be run: ${r.error.message}`;
  if (r.status === 127) return `${need}, but ip is not on the PATH: ${r.stderr.trim()}`;
  if (r.status !== 0) return `${need}, but it failed${process.getuid?.() === 0 ? '' : ' (not run as root)'}: ${r.stderr.trim() || `exit ${r.status}`}`;
  return null;
}

/** The tracked files of the repository as they are in the working tree (a fresh clone of this commit, plus local edits). */
function copyRepository(to: string): void {
  // Readable by others, as a clone in a home or project folder is: the embedded PostgreSQL runs as the user postgres when started as root.
  chmodSync(to, 0o755);
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    const from = join(WORKSPACE_ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    if (file === 'node_modules') continue; // a link to another checkout's (ignored only as a folder); linked in below
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
  let shell: ShellSession;
  let stack: Background | undefined;

  beforeAll(async () => {
    const problem = namespaceProblem();
    if (problem) throw new Error(problem);
    root = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
    scratch = mkdtempSync(join(tmpdir(), 'sluice-readme-out-'));
    copyRepository(root);
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
      },
      scratch,
    );
    // The shell is in a namespace of its own, and nothing runs there but the shell.
    const { code, out } = await shell.run('ip -o link show up');
    expect({ code, out: out.trim().split('\n').map((l) => l.split(':')[1]?.trim()) }).toEqual({ code: 0, out: ['lo'] });
    expect(shell.namespace()).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(shell.others()).toEqual([]);
  });

  afterAll(async () => {
    await shell?.close();
    if (root) rmSync(root, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  async function runCommand(c: ReadmeCommand): Promise<void> {
    if (c.text.trim() === 'npm ci') return; // node_modules is linked in
    if (c.untilCtrlC) {
      const job = await shell.start(c, c.text);
      // npm start runs under the next sections (stopped before "Run one service"); npm run services under the rest of its section.
      if (/^npm (start|run services)\b/.test(c.text)) stack = job;
      else await shell.interrupt(job);
      return;
    }
    const deadline = Date.now() + READ_RETRY_MS;
    for (;;) {
      const { code, out } = await shell.run(c.text);
      const absent = missing(out, c.expect);
      if (code === 0 && absent.length === 0) return;
      if (!isRepeatableRead(c.text) || Date.now() > deadline) {
        throw new Error(`README command failed (exit ${code}${absent.length ? `; missing ${JSON.stringify(absent)}` : ''}):\n${c.text}\n--- output ---\n${out.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /**
   * Ctrl-C to a running `npm start` / `npm run services`: its last line names what it stopped, which must be
   * the embedded PostgreSQL and the nats-server it started, and afterwards nothing of it runs any more.
   */
  async function stopStack(job: Background, services: string[]): Promise<void> {
    await shell.interrupt(job);
    const printed = readFileSync(job.out, 'utf8');
    const last = printed.trim().split('\n').at(-1) ?? '';
    expect(printed).toContain('• stopping…');
    expect({ last, stopped: last.replace(/^• stopped /, '').split(', ').sort() }).toEqual({ last: expect.stringMatching(/^• stopped /), stopped: [...services, 'the embedded PostgreSQL', 'the nats-server'].sort() });
    // The launcher waits for PostgreSQL and NATS to end before it does; its reaper ends within a quarter second.
    await waitFor('nothing but the shell left in its network namespace', async () => shell.others().length === 0, 10_000, 200).catch(() => {
      throw new Error(`left running after ${job.command.text.split(/\s+#/)[0].trim()} stopped:\n${shell.others().map((p) => `${p.pid} ${p.cmd}`).join('\n')}`);
    });
  }

  it('names only files that are in the repository, and has commands in every section it documents', () => {
    for (const path of fixturePaths(markdown)) expect({ path, exists: existsSync(join(WORKSPACE_ROOT, path)) }).toEqual({ path, exists: true });
    for (const section of SECTIONS) expect(commands.filter((c) => c.section === section).length).toBeGreaterThan(0);
    // "Run one service" serves each of the four services.
    const serves = commands.filter((c) => c.section === 'Run one service').map((c) => /npx nx serve (\S+)/.exec(c.text)?.[1]);
    expect([...new Set(serves.filter(Boolean))].sort()).toEqual(['ingest-api', 'processor', 'query-api', 'watcher']);
  });

  for (const section of SECTIONS) {
    it(`runs every command of "${section}" as written`, async () => {
      if (section === 'Run one service' && stack) {
        // "Stop npm start first (Ctrl-C)": it stops every service and the PostgreSQL and NATS it started, and ends.
        const job = stack;
        stack = undefined;
        await stopStack(job, ['watcher', 'processor', 'ingest-api', 'query-api']);
      }
      for (const c of commands.filter((x) => x.section === section)) await runCommand(c);
      if (section === 'Run one service') {
        if (!stack) throw new Error('"Run one service" runs npm run services');
        const job = stack;
        stack = undefined;
        // npm run services started PostgreSQL and NATS (nothing else answers here): its Ctrl-C stops them.
        await stopStack(job, []);
      }
    }, 30 * 60_000);
  }

  it('loads every example of docs/formats.md on a stack of its own, as the kind the doc names, with no row error', async () => {
    // A stack of its own (another SLUICE_HOME, so another embedded PostgreSQL cluster and NATS store, and drop
    // folder): the README's stack holds the fixtures, which the examples overlap (lines.ndjson is the same
    // content, mapping.csv gives sensor_00001 to another UUID).
    const examples = formatExamples(readFileSync(FORMATS_DOC, 'utf8'));
    expect(examples.map((f) => f.name)).toEqual(Object.keys(EXAMPLE_KINDS));
    // As in a new terminal: the session has sourced .sluice/env ("Run one service").
    const text = 'env -u DATABASE_URL -u NATS_URL SLUICE_HOME="$PWD/.sluice-formats" DROPZONE_DIR="$PWD/dropzone-formats" npm start';
    const job = await shell.start({ section: 'docs/formats.md', text, expect: ['Sluice is running.'], untilCtrlC: true }, text);
    try {
      // Written elsewhere and renamed in, as a writer should.
      const incoming = join(root, 'dropzone-formats', 'incoming');
      mkdirSync(incoming, { recursive: true });
      for (const f of examples) {
        writeFileSync(join(scratch, f.name), f.content);
        renameSync(join(scratch, f.name), join(incoming, f.name));
      }
      const list = `curl -s -H "x-api-key: $(node -p "require('./.sluice-formats/api-keys.json').query")" 'localhost:3002/files?limit=100'`;
      type File = { original_name: string; kind: string | null; status: FileStatus; rows_total: number; rows_rejected: number };
      const files = await waitFor('every example to be final', async () => {
        const { code, out } = await shell.run(list);
        if (code !== 0) throw new Error(`${list}: exit ${code}: ${out}`);
        const listed = (JSON.parse(out) as { files: File[] }).files;
        return listed.length === examples.length && listed.every((f) => isTerminal(f.status)) ? listed : null;
      }, 180_000, 1000);
      const seen = Object.fromEntries(files.map((f) => [f.original_name, { kind: f.kind, status: f.status, rejected: f.rows_rejected, some: f.rows_total > 0 }]));
      const want = Object.fromEntries(Object.entries(EXAMPLE_KINDS).map(([name, kind]) => [name, { kind, status: 'processed', rejected: 0, some: true }]));
      expect(seen).toEqual(want);
    } finally {
      await stopStack(job, ['watcher', 'processor', 'ingest-api', 'query-api']);
    }
  }, 15 * 60_000);
});
