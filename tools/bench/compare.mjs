// `npm run bench -- --compare REF [--rounds N] [--only e2e,query …]`: the chosen sections of this checkout
// (B) and of the commit REF (A, checked out into a temporary worktree), run interleaved A B B A … so a busy
// machine's drift falls on both alike; prints each figure's median per build and the change. Each build is
// measured by its own bench code on its own schema, so the figures are read from the report's lines.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Figures the sections print, read back from their lines; `lower` says which way is better. */
const FIGURES = [
  { name: 'end to end (s)', re: /^end-to-end\s+([\d.]+) s/, lower: true },
  { name: 'psql \\copy of the same rows (s)', re: /^psql \\copy\s+([\d.]+) s/, lower: true },
  { name: 'psql \\copy, narrow table (s)', re: /^psql \\copy narrow\s+([\d.]+) s/, lower: true },
  { name: 'end to end / \\copy', re: /^ratio\s+([\d.]+)×/, lower: true },
  { name: 'end to end / narrow \\copy', re: /; ([\d.]+)× the narrow \\copy/, lower: true },
  { name: 'small file p50 (ms)', re: /^p50 (\d+) ms \(target ≤ \d+\)/, lower: true },
  { name: 'small file p99 (ms)', re: /; p99 (\d+) ms \(target ≤ \d+\)/, lower: true },
  { name: 'query p95 (ms)', re: /^steady state: p50 [\d.]+ ms, p95 ([\d.]+) ms/, lower: true },
  { name: 'PostgreSQL alone p95 (ms)', re: /^database alone .*p95 ([\d.]+) ms/, lower: true },
  { name: 'query p95 / PostgreSQL alone', re: /^query ratio: p95 ([\d.]+)×/, lower: true },
  { name: 'POST /ingest (req/s)', re: /: ([\d,]+) req\/s \(target/, lower: false },
  { name: 'POST /ingest p99 (ms)', re: /^latency p50 \S+ ms, p99 (\d+) ms/, lower: true },
  { name: 'POST /ingest / bare server', re: /^ratio to the bare server: ([\d.]+)×/, lower: false },
  { name: 'POST /ingest CPU per payload (ms)', re: /^CPU per accepted payload.*; total ([\d.]+) ms/, lower: true },
  { name: '  of it ingest-api (ms)', re: /^CPU per accepted payload.*ingest-api ([\d.]+) ms/, lower: true },
  { name: '  of it postgresql (ms)', re: /^CPU per accepted payload.*postgresql ([\d.]+) ms/, lower: true },
  { name: '  of it processor (ms)', re: /^CPU per accepted payload.*processor ([\d.]+) ms/, lower: true },
  { name: 'upload of ~200 MB stored in (s)', re: /^\d+ MB stored in ([\d.]+) s; ingest-api peak RSS/, lower: true },
  { name: 'upload: ingest-api peak RSS (MB)', re: /ingest-api peak RSS \(VmHWM\) (\d+) MB/, lower: true },
  { name: 'COPY rows/s partitioned / unpartitioned', re: /^ratio partitioned\/unpartitioned ([\d.]+)×/, lower: false },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function run(cmd, args, cwd, env) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Reads every figure a report printed (a section printing one twice keeps the first). */
export function figuresOf(report) {
  const found = {};
  for (const line of report.split('\n')) {
    for (const f of FIGURES) {
      const m = f.re.exec(line.trim());
      if (m && found[f.name] === undefined) found[f.name] = Number(m[1].replace(/,/g, ''));
    }
  }
  return found;
}

export function compare(root, argv) {
  const ref = argv[argv.indexOf('--compare') + 1];
  if (!ref || ref.startsWith('--')) throw new Error('--compare needs a commit, branch or tag');
  const roundsAt = argv.indexOf('--rounds');
  const rounds = roundsAt > 0 ? Number(argv[roundsAt + 1]) : 2;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive whole number');
  const forwarded = argv.filter((a, i) => !['--compare', '--rounds'].includes(a) && !['--compare', '--rounds'].includes(argv[i - 1]));
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
  const log = (s) => process.stdout.write(`${s}\n`);

  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-compare-'));
  const refTree = join(scratch, 'ref');
  const added = run('git', ['worktree', 'add', '--detach', refTree, ref], root, env);
  if (added.code !== 0) throw new Error(`cannot check out ${ref}: ${added.out.trim()}`);
  try {
    symlinkSync(join(root, 'node_modules'), join(refTree, 'node_modules'));
    const sha = run('git', ['rev-parse', '--short', 'HEAD'], refTree, env).out.trim();
    const here = run('git', ['rev-parse', '--short', 'HEAD'], root, env).out.trim();
    const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], root, env).out.trim() ? ' (with uncommitted changes)' : '';
    const builds = [
      { label: `${ref} (${sha})`, tree: refTree },
      { label: `this checkout (${here})${dirty}`, tree: root },
    ];
    for (const b of builds) {
      log(`building ${b.label} …`);
      const r = run(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), 'run-many', '-t', 'build', '--projects=watcher,processor,ingest-api,query-api', '--outputStyle=static', '--skip-nx-cache'], b.tree, env);
      if (r.code !== 0) throw new Error(`build of ${b.label} failed:\n${r.out.slice(-4000)}`);
      b.runs = [];
    }
    // A B, then B A, …: each build runs first as often as second.
    const order = [];
    for (let i = 0; i < rounds; i++) order.push(...(i % 2 === 0 ? [0, 1] : [1, 0]));
    order.forEach((which, n) => {
      const b = builds[which];
      log(`run ${n + 1}/${order.length}: ${b.label}`);
      const r = run(process.execPath, ['--expose-gc', '-r', join(b.tree, 'tools/scripts/register.cjs'), join(b.tree, 'tools/bench/bench.ts'), ...forwarded], b.tree, env);
      const file = join(scratch, `run-${n + 1}-${which === 0 ? 'A' : 'B'}.txt`);
      writeFileSync(file, r.out);
      if (r.code !== 0) throw new Error(`${b.label} failed (report in ${file}):\n${r.out.slice(-3000)}`);
      b.runs.push(figuresOf(r.out));
    });

    log(`\n# Interleaved comparison, ${rounds} runs each (${order.map((w) => 'AB'[w]).join(' ')}); medians`);
    log(`A = ${builds[0].label}\nB = ${builds[1].label}\n`);
    const rows = [['figure', 'A median', 'B median', 'B vs A', 'A runs', 'B runs']];
    for (const f of FIGURES) {
      const [a, b] = builds.map((x) => x.runs.map((r) => r[f.name]).filter((v) => v !== undefined));
      if (!a.length && !b.length) continue;
      const [ma, mb] = [a.length ? median(a) : NaN, b.length ? median(b) : NaN];
      const change = Number.isFinite(ma) && Number.isFinite(mb) && ma !== 0 ? (mb - ma) / ma : NaN;
      const verdict = Number.isNaN(change) ? '—' : `${change >= 0 ? '+' : ''}${(100 * change).toFixed(1)} % ${Math.abs(change) < 0.005 ? '' : (change < 0) === f.lower ? '(better)' : '(worse)'}`;
      rows.push([f.name, fmt(ma), fmt(mb), verdict, a.map(fmt).join(' '), b.map(fmt).join(' ')]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
    log(`\nreports: ${scratch}`);
  } finally {
    run('git', ['worktree', 'remove', '--force', refTree], root, env);
    if (existsSync(refTree)) rmSync(refTree, { recursive: true, force: true });
  }
}

function fmt(v) {
  if (!Number.isFinite(v)) return '—';
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2);
}
