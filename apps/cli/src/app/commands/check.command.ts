import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import { ContractCatalog, contractsTaking } from '@sluice/datasets';
import type { CheckReport, ContractChooser } from '@sluice/loading';
import type { CliContext } from '../cli-context';
import { CliError, EXIT, type ExitCode } from '../cli-error';
import { contractsFolder } from '../contracts/contracts-folder';
import { type CliIo, escapeControls } from '../output';

interface CheckOptions {
  json?: boolean;
  contractsDir?: string;
}

export function registerCheck(program: Command, ctx: () => CliContext, io: CliIo, env: NodeJS.ProcessEnv): void {
  program
    .command('check')
    .description('A dry run of loading a file, or every file of a folder, against the live database: kind or contract, rows, duplicates, rejected rows, drift and verdict. Writes nothing. Exit 1 when a file would be quarantined.')
    .argument('<path>', 'a file or a folder (every file in it, recursively, in name order)')
    .option('--json', 'one JSON object per file and line')
    .option('--contracts-dir <dir>', 'the contracts folder (default: CONTRACTS_DIR, else contracts/ beside DROPZONE_DIR)')
    .action(async (path: string, opts: CheckOptions) => {
      const code = await runCheck(path, opts, ctx, io, env);
      if (code !== EXIT.ok) throw new CliError(code === EXIT.failure ? 'a file would be quarantined' : 'usage', code);
    });
}

async function runCheck(path: string, opts: CheckOptions, ctx: () => CliContext, io: CliIo, env: NodeJS.ProcessEnv): Promise<ExitCode> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) throw CliError.usage(`${path}: only local files and folders can be checked by this version (s3:// is not supported yet)`);
  const { files, root } = await filesOf(path);
  const config = loadConfig(ProcessorConfig, env);
  const catalog = new ContractCatalog(contractsFolder(opts.contractsDir, env));
  catalog.refresh();
  const contracts: ContractChooser = {
    choose: (input) => {
      const taking = contractsTaking(catalog.all(), input);
      return taking.length === 0 ? { none: true } : taking.length > 1 ? { ambiguous: taking } : { version: taking[0] };
    },
  };
  const { FileCheck, checkLoadOptions } = await import('@sluice/loading');
  const check = new FileCheck({ db: await ctx().db(), contracts, schema: config.CONTRACTS_SCHEMA, options: checkLoadOptions(config), decompression: config.decompressionLimits });
  let quarantined = false;
  for (const file of files) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    const report = await check.check(name, () => createReadStream(file), { input: { source: 'dropzone', path: root === null ? name : relative(root, file) } });
    report.file = file;
    quarantined ||= report.verdict === 'quarantine';
    io.out.write(opts.json ? `${JSON.stringify(report)}\n` : humanReport(report));
  }
  return quarantined ? EXIT.failure : EXIT.ok;
}

/** The files to check; `root`, for a folder, is what their paths (as contracts' `folder` sees them) are relative to. */
async function filesOf(path: string): Promise<{ files: string[]; root: string | null }> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw CliError.usage(`${path}: no such file or folder`);
  }
  if (info.isFile()) return { files: [path], root: null };
  if (!info.isDirectory()) throw CliError.usage(`${path}: not a file or folder`);
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return { files, root: path };
}

function humanReport(r: CheckReport): string {
  const lines = [`${r.file}: ${r.verdict.toUpperCase()}`];
  lines.push(`  kind: ${r.kind ?? 'none'}${r.contract ? ` (contract ${r.contract}, version ${r.contract_version?.slice(0, 12)})` : ''}`);
  if (r.rows_total !== null) lines.push(`  rows: ${r.rows_total} total, ${r.would_load} would load, ${r.duplicate_rows} duplicate`);
  for (const [rule, n] of Object.entries(r.rejected)) lines.push(`  rejected ${rule}: ${n}`);
  for (const s of r.samples) lines.push(`    line ${s.line}${s.column ? ` ${s.column}` : ''}: ${s.message}`);
  if (r.drift.length) lines.push(`  drift: ${JSON.stringify(r.drift)}`);
  if (r.reason) lines.push(`  ${r.verdict === 'load' ? 'note' : 'reason'}: ${r.reason}`);
  return `${lines.map(escapeControls).join('\n')}\n`;
}
