import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';
import type { Contract, ContractColumn, ContractFormat, ContractProblem, ContractVersion } from '../contract';
import { checkContract, type Report } from './contract-rules';
import { ContractFileDto, type ColumnDto, type FormatDto } from './contract-file.dto';
import { identifierProblem } from './identifiers';
import { DEFAULT_FORMATS } from './timestamp-formats';
import { formatPath, parseYamlSource, type FieldPath } from './yaml-source';

/** The largest contract file read: a contract is a page of YAML, and anything larger is refused before parsing. */
export const MAX_CONTRACT_BYTES = 256 * 1024;

/** Problems reported of one file at most (and how many more there are). */
export const MAX_PROBLEMS = 100;

/** Extensions of contract files (compared without case). */
export const CONTRACT_EXTENSIONS: readonly string[] = ['.yaml', '.yml'];

export type ReadContractResult = { version: ContractVersion } | { problems: ContractProblem[] };

/** Whether a file name is a contract file's: `*.yaml` or `*.yml`, not a dotfile. */
export function isContractFileName(fileName: string): boolean {
  const lower = fileName.toLowerCase();
  return !fileName.startsWith('.') && CONTRACT_EXTENSIONS.some((ext) => lower.endsWith(ext) && lower.length > ext.length);
}

/** A contract's name: its file's base name without `.yaml` / `.yml`. */
export function contractNameOf(file: string): string {
  const base = basename(file);
  const ext = CONTRACT_EXTENSIONS.find((e) => base.toLowerCase().endsWith(e));
  return ext ? base.slice(0, -ext.length) : base;
}

/** The problem of a contract file of `size` bytes, or null when it is small enough to read. */
export function contractSizeProblem(file: string, size: number): ContractProblem | null {
  if (size <= MAX_CONTRACT_BYTES) return null;
  return { file, message: `the file is ${kib(size)}, larger than the ${kib(MAX_CONTRACT_BYTES)} a contract may be` };
}

/**
 * Reads and validates one contract file: the version (the contract, with every default filled in, and the file's
 * hash and text), or every problem found, each with the field (a dotted path) and the line it is written on.
 */
export function readContract(file: string, bytes: Buffer | string): ReadContractResult {
  const tooLarge = contractSizeProblem(file, typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.length);
  if (tooLarge) return { problems: [tooLarge] };
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    return { problems: [{ file, message: 'the file is not UTF-8 text; save it as UTF-8' }] };
  }

  // The name comes from the file, not its text: reported whatever the text holds.
  const name = contractNameOf(file);
  const nameProblem = identifierProblem(name, 'the contract name');
  const problems: ContractProblem[] = nameProblem ? [{ file, message: `${nameProblem}; it is the file's name without .yaml, so rename the file` }] : [];

  const source = parseYamlSource(text);
  if ('problems' in source) return { problems: [...problems, ...source.problems.map((p) => ({ file, ...p }))] };
  const report: Report = (path, message) => {
    const line = source.lineOf(path);
    problems.push({ file, ...(line !== undefined && { line }), ...(path.length && { field: formatPath(path) }), message });
  };

  if (source.value === null || source.value === undefined) {
    report([], 'the file is empty; a contract needs inputs, format, columns and table');
    return { problems };
  }
  if (!isPlainObject(source.value)) {
    report([], `the file must be a mapping of fields (inputs, format, columns, table…), found ${describeValue(source.value)}`);
    return { problems };
  }

  const dto = plainToInstance(ContractFileDto, source.value);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, validationError: { value: true } });
  for (const e of errors) reportValidationError(e, [e.property], report);
  checkContract(dto, name, report);

  if (problems.length) return { problems: capped(file, problems) };
  return {
    version: {
      contract: toContract(name, dto),
      hash: createHash('sha256').update(buffer).digest('hex'),
      text,
      file,
    },
  };
}

/** The first MAX_PROBLEMS problems, and a last one counting the rest: a broken file of 500 columns stays readable. */
function capped(file: string, problems: ContractProblem[]): ContractProblem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  const rest = problems.length - MAX_PROBLEMS;
  return [...problems.slice(0, MAX_PROBLEMS), { file, message: `and ${rest} more problem${rest === 1 ? '' : 's'}; fix these first` }];
}

/** The model of a validated contract file, defaults filled in. */
function toContract(name: string, dto: ContractFileDto): Contract {
  const table = dto.table;
  return {
    name,
    inputs: {
      ...(dto.inputs.glob !== undefined && { glob: dto.inputs.glob }),
      ...(dto.inputs.folder !== undefined && { folder: dto.inputs.folder }),
      ...(dto.inputs.s3 && { s3: { source: dto.inputs.s3.source, prefix: dto.inputs.s3.prefix } }),
      ...(dto.inputs.kind !== undefined && { kind: dto.inputs.kind }),
    },
    format: toFormat(dto.format),
    ...(dto.timezone != null && { timezone: dto.timezone }),
    columns: dto.columns.map(toColumn),
    table: {
      name: table.name ?? name,
      key: [...table.key],
      onDuplicateKey: table.on_duplicate_key ?? 'reject',
      ...(table.newest_by != null && { newestBy: table.newest_by }),
      ...(table.time_column != null && { timeColumn: table.time_column }),
    },
    drift: dto.drift ?? 'quarantine',
  };
}

function toFormat(f: FormatDto): ContractFormat {
  switch (f.type) {
    case 'csv':
      return {
        type: 'csv',
        delimiter: f.delimiter ?? ',',
        quote: f.quote ?? '"',
        header: f.header ?? true,
        ...(f.columns && { columns: [...f.columns] }),
        decimalComma: f.decimal_comma ?? false,
        encoding: f.encoding ?? 'utf-8',
        skipLines: f.skip_lines ?? 0,
      };
    case 'ndjson':
      return { type: 'ndjson' };
    case 'json':
      return { type: 'json', recordsPath: f.records_path ?? '' };
  }
}

function toColumn(c: ColumnDto): ContractColumn {
  const timed = c.type === 'timestamptz' || c.type === 'date';
  return {
    source: c.source,
    name: c.name,
    type: c.type,
    required: c.required ?? false,
    ...(c.min != null && { min: c.min }),
    ...(c.max != null && { max: c.max }),
    ...(c.enum && { enum: [...c.enum] }),
    ...(c.max_length != null && { maxLength: c.max_length }),
    ...(c.pattern != null && { pattern: c.pattern }),
    ...(timed && { formats: c.formats ? [...c.formats] : [...DEFAULT_FORMATS] }),
    ...(c.timezone != null && { timezone: c.timezone }),
    ambiguous: c.ambiguous ?? 'reject',
  };
}

/** The constraint a field is reported by when it breaks several: missing, unknown, wrong type, then bounds. */
const PRIORITY = ['isDefined', 'whitelistValidation', 'isObject', 'isArray', 'isString', 'isBoolean', 'isNumber', 'isInt', 'isIn', 'arrayNotEmpty', 'arrayMaxSize'];

/** One problem per field of a class-validator error tree; an array's children are its items, by index. */
function reportValidationError(e: ValidationError, path: FieldPath, report: Report): void {
  const names = Object.keys(e.constraints ?? {});
  if (names.length) {
    const name = PRIORITY.find((n) => names.includes(n)) ?? names[0];
    report(path, name === 'whitelistValidation' ? unknownFieldMessage(e, path) : fillTemplate(e.constraints?.[name] ?? '{field} is not valid', path, e.value));
  }
  for (const child of e.children ?? []) {
    const index = Array.isArray(e.value) && /^\d+$/.test(child.property) ? Number(child.property) : child.property;
    reportValidationError(child, [...path, index], report);
  }
}

function unknownFieldMessage(e: ValidationError, path: FieldPath): string {
  const parent = path.slice(0, -1);
  const known = e.target ? knownFields(e.target.constructor) : [];
  const where = parent.length ? formatPath(parent) : 'a contract';
  const hint = known.length ? ` (its fields: ${known.join(', ')})` : '';
  return `${formatPath(path)} is not a field of ${where}${hint}; remove it or correct its spelling`;
}

function knownFields(target: unknown): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(target as new () => object, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))];
}

function fillTemplate(template: string, path: FieldPath, value: unknown): string {
  return template
    .replaceAll('{field}', formatPath(path))
    .replaceAll('{found}', describeValue(value))
    .replaceAll('{count}', Array.isArray(value) ? value.length.toLocaleString('en') : '?');
}

/** A value as a sentence puts it: `the text "abc"`, `the number 5`, `a list`. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
