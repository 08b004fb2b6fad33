import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadConfig, ProcessorConfig } from '@sluice/config';
import { ContractCatalog, contractsTaking, type ContractInput } from '@sluice/datasets';
import type { CheckReport, ContractChooser } from '@sluice/loading';
import type { Readable } from 'node:stream';
import { S3ObjectStore } from '@sluice/storage';
import { listDataObjects, parseS3Url, sourceFor, type S3Location } from '../backfill/s3-objects';
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
    .argument('<path>', 'a file, a folder (every file in it, recursively, in name order), or s3://bucket/prefix (every object under it, read through the S3_SOURCES source of that bucket)')
    .option('--json', 'one JSON object per file and line')
    .option('--contracts-dir <dir>', 'the contracts folder (default: CONTRACTS_DIR, else contracts/ beside DROPZONE_DIR)')
    .action(async (path: string, opts: CheckOptions) => {
      const code = await runCheck(path, opts, ctx, io, env);
      if (code !== EXIT.ok) throw new CliError(code === EXIT.failure ? 'a file would be quarantined' : 'usage', code);
    });
}

async function runCheck(path: string, opts: CheckOptions, ctx: () => CliContext, io: CliIo, env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const bucket = parseS3Url(path);
  if (!bucket && /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) throw CliError.usage(`${path}: give a local file or folder, or s3://bucket/prefix`);
  const config = loadConfig(ProcessorConfig, env);
  const targets = bucket ? await objectsOf(bucket, config) : await filesOf(path);
  try {
    const catalog = new ContractCatalog(contractsFolder(opts.contractsDir, env));
    catalog.refresh();
    const contracts: ContractChooser = {
      choose: (input) => {
        const taking = contractsTaking(catalog.all(), input);
        return taking.length === 0 ? { none: true } : taking.length > 1 ? { ambiguous: taking } : { version: taking[0] };
      },
    };
    const { FileCheck, loadPolicyOptions } = await import('@sluice/loading');
    const check = new FileCheck({ db: await ctx().db(), contracts, schema: config.CONTRACTS_SCHEMA, options: loadPolicyOptions(config), decompression: config.decompressionLimits });
    let quarantined = false;
    for (const target of targets.items) {
      const report = await check.check(target.name, target.open, { input: target.input });
      report.file = target.shown;
      quarantined ||= report.verdict === 'quarantine';
      io.out.write(opts.json ? `${JSON.stringify(report)}\n` : humanReport(report));
    }
    if (targets.items.length === 0) io.err.write(`nothing to check under ${escapeControls(path)}\n`);
    return quarantined ? EXIT.failure : EXIT.ok;
  } finally {
    targets.close?.();
  }
}

/** One file or object to check: its name (kind detection), how contracts see it, how the report names it. */
interface CheckTarget {
  name: string;
  shown: string;
  input: ContractInput;
  open: () => Readable;
}

interface CheckTargets {
  items: CheckTarget[];
  close?: () => void;
}

/**
 * Every object under s3://bucket/prefix, read through the S3_SOURCES source of that bucket (its endpoint and
 * credentials), as the processors would read them; contracts see them as objects of that source.
 */
async function objectsOf(at: S3Location, config: ProcessorConfig): Promise<CheckTargets> {
  const source = sourceFor(config.s3Sources, at);
  const store = new S3ObjectStore(source);
  try {
    const objects = await listDataObjects(store);
    return {
      items: objects.map((o) => ({
        name: o.key.slice(o.key.lastIndexOf('/') + 1),
        shown: `s3://${at.bucket}/${o.key}`,
        input: { source: 's3', s3Source: source.name, key: o.key },
        open: () => store.openRead(o.key, o.etag),
      })),
      close: () => store.destroy(),
    };
  } catch (e) {
    store.destroy();
    throw e;
  }
}

/** The files to check: one, or every file of a folder (contracts' `folder` sees their paths relative to it). */
async function filesOf(path: string): Promise<CheckTargets> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw CliError.usage(`${path}: no such file or folder`);
  }
  const target = (file: string, rel: string): CheckTarget => ({
    name: file.slice(file.lastIndexOf('/') + 1),
    shown: file,
    input: { source: 'dropzone', path: rel },
    open: () => createReadStream(file),
  });
  if (info.isFile()) return { items: [target(path, path.slice(path.lastIndexOf('/') + 1))] };
  if (!info.isDirectory()) throw CliError.usage(`${path}: not a file or folder`);
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return { items: files.map((f) => target(f, relative(path, f))) };
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
