import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, matchesGlob } from 'node:path';
import type { Command } from 'commander';
import {
  ContractCatalog,
  diffColumns,
  formatDiff,
  inferContract,
  readContract,
  tableNameProblem,
  timeZoneProblem,
  type ContractFormat,
  type ContractProblem,
  type ContractVersion,
} from '@sluice/datasets';
import { parse } from 'yaml';
import { CliError } from '../cli-error';
import { contractsFolder } from '../contracts/contracts-folder';
import { recordsPathProblem, regularFileSize, sampleNewFile, sampleWithFormat, type FileSample } from '../contracts/file-sample';
import { type CliIo, escapeControls, formatCount, terminalJson } from '../output';

interface InitOptions {
  name: string;
  timezone?: string;
  force?: boolean;
  contractsDir?: string;
  recordsPath?: string;
}

interface DiffOptions {
  contract?: string;
  contractsDir?: string;
  json?: boolean;
}

/** Characters of the version (sha256) shown, as the catalog shows it. */
const VERSION_LENGTH = 12;

export function registerContract(program: Command, io: CliIo, env: NodeJS.ProcessEnv): void {
  const contract = program
    .command('contract')
    .description('Data contracts: write a contract from a sample file, compare a file with its contract.')
    .addHelpText(
      'after',
      `
The contracts folder is --contracts-dir, else CONTRACTS_DIR, else contracts/ beside DROPZONE_DIR, else ./contracts.
See docs/contracts.md.`,
    );

  contract
    .command('init')
    .argument('<file>', 'a sample file: CSV, NDJSON (.ndjson, .jsonl) or JSON (.json)')
    .description('Infer a contract from a sample of FILE and write it to <contracts folder>/<name>.yaml, for you to check and edit.')
    .requiredOption('--name <name>', 'the contract (and table) name: lower-case letters, digits and _')
    .option('--timezone <zone>', 'IANA zone of the local times in the file (Europe/Berlin)')
    .option('--records-path <path>', 'JSON: the dotted path of the array of records (found by itself in documents up to 16 MiB)')
    .option('--contracts-dir <dir>', 'the contracts folder')
    .option('--force', 'replace an existing contract file')
    .addHelpText(
      'after',
      `
It samples the first 1 MiB (1,000 records) of FILE: the CSV delimiter, header and decimal comma are sniffed, each
column's type guessed from its values, the key guessed, the glob made from the file's name (dates and numbers as *).

Examples:
  sluice contract init weather_2024-03-31.csv --name weather --timezone Europe/Berlin
  sluice contract init export.json --name meters --records-path data.readings --contracts-dir ./contracts`,
    )
    .action(async (file: string, opts: InitOptions) => {
      await initContract(file, opts, io, env);
    });

  contract
    .command('diff')
    .argument('<file>', 'a data file')
    .description("Compare FILE's columns with its contract's: added, missing, renamed columns and changed types.")
    .option('--contract <name>', 'the contract to compare with (default: the one whose inputs.glob takes the file name)')
    .option('--contracts-dir <dir>', 'the contracts folder')
    .option('--json', 'print { file, contract, version, diff } as JSON')
    .addHelpText(
      'after',
      `
Exit 0 when the file matches, 1 when it differs, 2 when no contract (or more than one) takes it.

Examples:
  sluice contract diff weather_2024-04-01.csv
  sluice contract diff export.json --contract meters --json`,
    )
    .action(async (file: string, opts: DiffOptions) => {
      await diffContract(file, opts, io, env);
    });
}

async function initContract(file: string, opts: InitOptions, io: CliIo, env: NodeJS.ProcessEnv): Promise<void> {
  const nameProblem = tableNameProblem(opts.name, 'the contract name');
  if (nameProblem) throw CliError.usage(`${nameProblem} (--name)`);
  const zoneProblem = opts.timezone === undefined ? null : timeZoneProblem(opts.timezone, '--timezone');
  if (zoneProblem) throw CliError.usage(zoneProblem);
  const pathProblem = opts.recordsPath === undefined ? null : recordsPathProblem(opts.recordsPath);
  if (pathProblem) throw CliError.usage(pathProblem);
  if (opts.recordsPath !== undefined && !basename(file).toLowerCase().endsWith('.json')) throw CliError.usage('--records-path is for JSON documents (.json)');

  const folder = contractsFolder(opts.contractsDir, env);
  const target = join(folder, `${opts.name}.yaml`);
  // The catalog refuses two files for one name: a weather.yml beside the new weather.yaml would take both out.
  const other = join(folder, `${opts.name}.yml`);
  if (existsSync(other)) throw new CliError(`${other} already defines the contract ${opts.name}; edit it, or remove it and run this again`);
  if (existsSync(target) && !opts.force) throw new CliError(`${target} exists; edit it, or add --force to replace it`);

  const size = await regularFileSize(file);
  const sample = await sampleNewFile(file, size, opts.recordsPath);
  let text: string;
  try {
    text = inferContract({ name: opts.name, fileName: file, format: sample.format, columns: sample.columns, rowsSampled: sample.rowsSampled, timezone: opts.timezone });
  } catch (e) {
    throw new CliError(`cannot infer a contract from ${file}: ${(e as Error).message}`);
  }
  try {
    await mkdir(folder, { recursive: true });
  } catch (e) {
    throw new CliError(`cannot make the contracts folder ${folder} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    // `wx`: a file that appeared since the check above is not replaced either.
    await writeFile(target, text, { flag: opts.force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'EEXIST' ? `${target} exists; edit it, or add --force to replace it` : `cannot write ${target} (${code ?? 'error'})`);
  }

  const lines = [`wrote ${target}, inferred from ${formatCount(sample.rowsSampled)} rows of ${file}`, ...describeInferred(text, sample)];
  const read = readContract(target, text);
  const diffHint = `sluice contract diff ${file}${opts.contractsDir !== undefined ? ` --contracts-dir ${opts.contractsDir}` : ''}`;
  if ('problems' in read) {
    lines.push('', `${target} needs an edit before Sluice takes it:`, ...read.problems.map((p) => `  ${problemText(p)}`), '');
    const zone = read.problems.some((p) => /timezone/.test(p.message)) ? ': add `timezone: <IANA zone>` (Europe/Berlin, America/New_York, UTC…)' : ' to fix these';
    lines.push(`next: edit ${target}${zone}, then ${diffHint}`);
  } else {
    lines.push('', `next: check ${target} (types, required, key, glob), then ${diffHint}`);
  }
  io.out.write(lines.map((l) => `${escapeControls(l)}\n`).join(''));
}

/** What the written contract says, read back from its YAML (it may not be a valid contract yet). */
function describeInferred(text: string, sample: FileSample): string[] {
  const doc = parse(text) as InferredDocument;
  const columns = doc.columns ?? [];
  const width = Math.max(0, ...columns.map((c) => String(c.source).length));
  const columnLines = columns.map((c, i) => {
    const details = [c.type, ...(c.formats ? [c.formats.join(' | ')] : []), ...(c.required ? ['required'] : [])].join(', ');
    return `${i === 0 ? 'columns ' : '        '} ${String(c.source).padEnd(width)} → ${c.name} (${details})`;
  });
  const key = doc.table?.key ?? [];
  return [
    `format   ${describeFormat(sample.format)}`,
    ...sample.notes.map((n) => `         ${n}`),
    ...columnLines,
    `key      ${key.length ? key.join(', ') : '(none found: name the columns that identify a row in table.key)'}`,
    `glob     ${doc.inputs?.glob ?? ''}`,
    `rows     ${formatCount(sample.rowsSampled)} sampled`,
  ];
}

interface InferredDocument {
  inputs?: { glob?: string };
  columns?: { source: string; name: string; type: string; required?: boolean; formats?: string[] }[];
  table?: { key?: string[] };
}

function describeFormat(format: ContractFormat): string {
  switch (format.type) {
    case 'csv':
      return [
        'csv',
        `delimiter ${JSON.stringify(format.delimiter)}`,
        format.header ? 'header' : 'no header',
        ...(format.decimalComma ? ['decimal comma'] : []),
        ...(format.skipLines ? [`${format.skipLines} lines skipped`] : []),
        format.encoding,
      ].join(', ');
    case 'ndjson':
      return 'ndjson';
    case 'json':
      return `json, records_path ${JSON.stringify(format.recordsPath)}`;
  }
}

async function diffContract(file: string, opts: DiffOptions, io: CliIo, env: NodeJS.ProcessEnv): Promise<void> {
  const size = await regularFileSize(file);
  const folder = contractsFolder(opts.contractsDir, env);
  const catalog = new ContractCatalog(folder);
  catalog.refresh();
  // Broken contracts are not in force; the valid ones still are, so the comparison goes on.
  io.err.write(catalog.problems().map((p) => `${escapeControls(problemText(p))}\n`).join(''));
  const version = chooseContract(catalog, folder, file, opts.contract);
  const contract = version.contract;

  const sample = await sampleWithFormat(file, size, contract.format);
  const diffs = diffColumns(contract, { columns: sample.columns });
  const versionId = version.hash.slice(0, VERSION_LENGTH);
  if (opts.json) {
    io.out.write(`${terminalJson({ file, contract: contract.name, version: versionId, diff: diffs })}\n`);
  } else if (diffs.length === 0) {
    io.out.write(`${escapeControls(`no differences: ${file} matches ${contract.name} (${contract.columns.length} columns)`)}\n`);
  } else {
    io.out.write(formatDiff(diffs).map((l) => `${escapeControls(l)}\n`).join(''));
  }
  if (diffs.length > 0) {
    const n = diffs.length;
    throw new CliError(`${file} differs from the contract ${contract.name} (sha256 ${versionId}, ${version.file}) in ${n} column${n === 1 ? '' : 's'}`);
  }
}

/** The contract named, or the one contract whose glob takes the file's name; a usage error naming the candidates otherwise. */
function chooseContract(catalog: ContractCatalog, folder: string, file: string, name: string | undefined): ContractVersion {
  const all = catalog.all();
  const names = all.map((v) => v.contract.name).join(', ');
  if (all.length === 0) throw CliError.usage(`no valid contract in ${folder}; write one with sluice contract init, or give --contracts-dir`);
  if (name !== undefined) {
    const named = catalog.get(name);
    if (!named) throw CliError.usage(`no valid contract ${name} in ${folder} (there are: ${names})`);
    return named;
  }
  const fileName = basename(file);
  const matching = all.filter((v) => v.contract.inputs.glob !== undefined && matchesGlob(fileName, v.contract.inputs.glob));
  if (matching.length === 1) return matching[0];
  if (matching.length === 0) {
    const globs = all.map((v) => `${v.contract.name}: ${v.contract.inputs.glob ?? '(no glob)'}`).join('; ');
    const broken = catalog.problems().length > 0 ? ' Contracts with the problems above are not in force until they are fixed.' : '';
    throw CliError.usage(`no contract in ${folder} takes the name ${fileName} (${globs}); name one with --contract.${broken}`);
  }
  throw CliError.usage(`several contracts in ${folder} take the name ${fileName}: ${matching.map((v) => v.contract.name).join(', ')}; choose one with --contract`);
}

/** A contract problem as compilers write theirs: `file:line: message`. */
function problemText(p: ContractProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`;
}
