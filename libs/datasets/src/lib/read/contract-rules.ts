import { FILE_KINDS } from '@sluice/contracts';
import { LINE_KINDS } from '@sluice/formats';
import safeRegex from 'safe-regex2';
import { COLUMN_TYPES, KEY_POLICIES, type ColumnType, type KeyPolicy } from '../contract';
import { MAX_FORMAT_LENGTH, MAX_PATTERN_LENGTH, type ColumnDto, type ContractFileDto, type FormatDto, type InputsDto, type TableDto } from './contract-file.dto';
import { columnNameProblem, identifierProblem, quote, SLUICE_TABLES, tableNameProblem } from './identifiers';
import { DEFAULT_FORMATS, isNaiveFormat, timestampFormatProblem, timeZoneProblem } from './timestamp-formats';
import { formatPath, type FieldPath } from './yaml-source';

/** Records one problem of the field at `path`. */
export type Report = (path: FieldPath, message: string) => void;

const NUMBER_TYPES: readonly ColumnType[] = ['int', 'bigint', 'float', 'numeric'];
const INTEGER_TYPES: readonly ColumnType[] = ['int', 'bigint'];
const TIME_TYPES: readonly ColumnType[] = ['timestamptz', 'date'];
const NEWEST_BY_TYPES: readonly ColumnType[] = ['timestamptz', 'date', 'int', 'bigint', 'float', 'numeric'];

/** File name globs: no path separator, nothing a shell or a path would read specially. */
const GLOB = /^[A-Za-z0-9_.*?[\]{}-]+$/;
/** One path segment below `incoming/`, not hidden. */
const FOLDER = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/** An S3_SOURCES name (as @sluice/config accepts them). */
const S3_SOURCE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A kind of `POST /ingest` bodies and NDJSON lines. */
const KIND = /^[a-z][a-z0-9_]{0,62}$/;
/** A dotted path into a JSON document: `data.readings`. */
const RECORDS_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The column a field names, reporting it when there is none. */
type ColumnLookup = (path: FieldPath, name: string, purpose: string) => ColumnDto | undefined;

const CSV_ONLY: readonly (keyof FormatDto)[] = ['delimiter', 'quote', 'header', 'columns', 'decimal_comma', 'encoding', 'skip_lines'];

/**
 * The rules across fields of a contract file whose single fields class-validator has checked. Fields of the
 * wrong type were reported there; each rule here looks only at fields of the right type, so nothing is reported twice.
 */
export function checkContract(dto: ContractFileDto, name: string, report: Report): void {
  if (isObject(dto.inputs)) checkInputs(dto.inputs, report);
  if (isText(dto.timezone)) reportIf(report, ['timezone'], timeZoneProblem(dto.timezone, 'timezone'));

  const columns = Array.isArray(dto.columns) ? dto.columns.map((c) => (isObject(c) ? c : undefined)) : [];
  const contractZone = isText(dto.timezone) ? dto.timezone : undefined;
  columns.forEach((c, i) => c && checkColumn(c, ['columns', i], contractZone, report));
  checkUnique(columns, 'name', report);
  checkUnique(columns, 'source', report);

  if (isObject(dto.format)) checkFormat(dto.format, columns, report);
  if (isObject(dto.table)) checkTable(dto.table, name, columns, report);
}

function checkInputs(inputs: InputsDto, report: Report): void {
  if (inputs.glob == null && inputs.folder == null && inputs.s3 == null && inputs.kind == null) {
    report(['inputs'], 'inputs names nothing to take: give at least one of glob, folder, s3 or kind');
  }
  const { glob, folder, s3, kind } = inputs;
  if (isText(glob) && (!GLOB.test(glob) || glob.includes('..'))) {
    report(['inputs', 'glob'], `inputs.glob ${quote(glob)} may use only letters, digits, _ . - and the wildcards * ? [ ] { } (no /, no ..); it matches file names, not paths`);
  }
  if (isText(folder) && !FOLDER.test(folder)) {
    report(['inputs', 'folder'], `inputs.folder ${quote(folder)} must be one folder name below incoming/: letters, digits, _ . -, not starting with a dot (no /)`);
  }
  if (isObject(s3)) {
    if (isText(s3.source) && !S3_SOURCE.test(s3.source)) {
      report(['inputs', 's3', 'source'], `inputs.s3.source ${quote(s3.source)} is not an S3_SOURCES name: 1 to 32 lower-case letters, digits, - or _`);
    }
    if (isText(s3.prefix) && (CONTROL.test(s3.prefix) || s3.prefix.startsWith('/') || s3.prefix.includes('\\') || s3.prefix.split('/').includes('..'))) {
      report(['inputs', 's3', 'prefix'], `inputs.s3.prefix ${quote(s3.prefix)} must be a key prefix such as weather/: no leading /, no \\, no .. segment, no control characters`);
    }
  }
  if (isText(kind)) {
    if (!KIND.test(kind)) report(['inputs', 'kind'], `inputs.kind ${quote(kind)} must be 1 to 63 lower-case letters, digits and _, starting with a letter`);
    else if ((FILE_KINDS as readonly string[]).includes(kind) || (LINE_KINDS as readonly string[]).includes(kind)) {
      report(['inputs', 'kind'], `inputs.kind ${quote(kind)} is a kind Sluice reads itself; choose another`);
    }
  }
}

function checkColumn(c: ColumnDto, at: FieldPath, contractZone: string | undefined, report: Report): void {
  const field = (name: string) => [...at, name];
  const label = isText(c.name) ? `column ${c.name}` : `column ${at[1]}`;
  if (isText(c.name)) reportIf(report, field('name'), columnNameProblem(c.name, `${formatPath(at)}.name`));
  if (!isOneOf(c.type, COLUMN_TYPES)) return;
  const type = c.type;
  const onlyFor = (name: string, types: readonly ColumnType[]) => {
    if ((c as unknown as Record<string, unknown>)[name] != null && !types.includes(type)) {
      report(field(name), `${formatPath(at)}.${name} applies only to ${orList(types)} columns, and ${label} is ${type}; remove it`);
    }
  };

  onlyFor('min', NUMBER_TYPES);
  onlyFor('max', NUMBER_TYPES);
  if (NUMBER_TYPES.includes(type)) {
    for (const bound of ['min', 'max'] as const) {
      const value = c[bound];
      if (isNumber(value) && INTEGER_TYPES.includes(type) && !Number.isInteger(value)) {
        report(field(bound), `${formatPath(at)}.${bound} must be a whole number for the ${type} ${label}, found ${value}`);
      }
    }
    if (isNumber(c.min) && isNumber(c.max) && c.min > c.max) report(field('min'), `${formatPath(at)}.min ${c.min} is greater than its max ${c.max}`);
  }

  onlyFor('max_length', ['text']);
  onlyFor('enum', ['text']);
  onlyFor('pattern', ['text']);
  if (type === 'text' && isText(c.pattern) && c.pattern.length <= MAX_PATTERN_LENGTH) reportIf(report, field('pattern'), patternProblem(c.pattern, `${formatPath(at)}.pattern`));

  onlyFor('formats', TIME_TYPES);
  onlyFor('timezone', TIME_TYPES);
  onlyFor('ambiguous', ['timestamptz']);
  if (!TIME_TYPES.includes(type)) return;
  if (isText(c.timezone)) reportIf(report, field('timezone'), timeZoneProblem(c.timezone, `${formatPath(at)}.timezone`));
  // Formats of the wrong type or length were reported by class-validator.
  const formats = (Array.isArray(c.formats) ? c.formats : DEFAULT_FORMATS).map((f) => (isText(f) && f.length <= MAX_FORMAT_LENGTH ? f : undefined));
  formats.forEach((f, j) => f !== undefined && reportIf(report, [...at, 'formats', j], timestampFormatProblem(f, `${formatPath(at)}.formats[${j}]`)));
  const naive = formats.find((f) => f !== undefined && isNaiveFormat(f));
  if (type === 'timestamptz' && naive !== undefined && c.timezone == null && contractZone === undefined) {
    report(
      field('formats'),
      `naive timestamps in ${label} need a timezone: the format ${quote(naive)} has no offset or zone, so add ` +
        '`timezone: <IANA zone>` (e.g. Europe/Berlin) to the column or the contract',
    );
  }
}

/** Why a column's pattern cannot be used, or null: it must compile (as a Unicode regular expression) and be safe. */
function patternProblem(pattern: string, what: string): string | null {
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    return `${what} is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  if (!safeRegex(pattern)) {
    return (
      `${what} ${quote(pattern)} is not safe: it has nested repetition (such as (a+)+) or too many repetitions, ` +
      'so some values could make matching take practically forever; simplify it'
    );
  }
  return null;
}

/** A later column giving the same name (or source) as an earlier one is refused, naming both. */
function checkUnique(columns: (ColumnDto | undefined)[], field: 'name' | 'source', report: Report): void {
  const first = new Map<string, number>();
  columns.forEach((c, i) => {
    const value = c?.[field];
    if (!isText(value)) return;
    const earlier = first.get(value);
    if (earlier === undefined) first.set(value, i);
    else report(['columns', i, field], `columns[${i}].${field} ${quote(value)} is already the ${field} of columns[${earlier}]; each column needs its own ${field}`);
  });
}

function checkFormat(format: FormatDto, columns: (ColumnDto | undefined)[], report: Report): void {
  const type = format.type;
  if (!isOneOf(type, ['csv', 'ndjson', 'json'] as const)) return;
  if (type !== 'csv') {
    for (const name of CSV_ONLY) if (format[name] != null) report(['format', name], `format.${name} applies only to csv files, and this format is ${type}; remove it`);
  }
  if (type !== 'json' && format.records_path != null) {
    report(['format', 'records_path'], `format.records_path applies only to json files, and this format is ${type}; remove it`);
  }
  if (type === 'json' && isText(format.records_path) && format.records_path !== '' && !RECORDS_PATH.test(format.records_path)) {
    report(['format', 'records_path'], `format.records_path ${quote(format.records_path)} must be names joined by dots (data.readings), each of letters, digits, _ or -`);
  }
  if (type !== 'csv') return;

  const delimiter = isText(format.delimiter) ? format.delimiter : ',';
  const quoteChar = isText(format.quote) ? format.quote : '"';
  for (const [name, value] of [['delimiter', delimiter], ['quote', quoteChar]] as const) {
    if ([...value].length !== 1 || value === '\r' || value === '\n') {
      report(['format', name], `format.${name} must be one character other than a line break, found ${quote(value)}`);
    }
  }
  if (delimiter === quoteChar) report(['format', 'quote'], `format.quote and format.delimiter are both ${quote(delimiter)}; they must differ`);

  const header = format.header ?? true;
  const names = Array.isArray(format.columns) ? format.columns.filter(isText) : undefined;
  if (header === true && format.columns != null) {
    report(['format', 'columns'], 'format.columns names the columns of files without a header row: set header: false, or remove it');
  }
  if (header === false) {
    if (!names) {
      report(['format', 'header'], 'header: false needs format.columns, the names of the columns in order (e.g. columns: [station, time, temperature])');
      return;
    }
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) report(['format', 'columns', i], `format.columns[${i}] ${quote(n)} is given twice; each name once`);
      seen.add(n);
    });
    columns.forEach((c, i) => {
      if (c && isText(c.source) && !seen.has(c.source)) {
        report(['columns', i, 'source'], `columns[${i}].source ${quote(c.source)} is not one of format.columns (${names.join(', ')})`);
      }
    });
  }
}

function checkTable(table: TableDto, contractName: string, columns: (ColumnDto | undefined)[], report: Report): void {
  if (isText(table.name)) reportIf(report, ['table', 'name'], tableNameProblem(table.name, 'table.name'));
  else if (table.name == null && identifierProblem(contractName, '') === null) {
    // The table takes the contract's name: only the names Sluice keeps for itself can be wrong here.
    if (SLUICE_TABLES.includes(contractName)) {
      report(['table', 'name'], `the table name ${quote(contractName)} (the contract's name, as table.name is not set) is one of Sluice's own tables; set table.name to another name`);
    }
  }

  const byName = new Map<string, ColumnDto>();
  for (const c of columns) if (c && isText(c.name) && !byName.has(c.name)) byName.set(c.name, c);
  const known = [...byName.keys()].join(', ');
  const column: ColumnLookup = (path, name, purpose) => {
    const found = byName.get(name);
    // With no usable columns (reported already) every name would be unknown: nothing more to say.
    if (!found && byName.size) report(path, `${formatPath(path)} ${quote(name)} is not a column of this contract (${known}); ${purpose} must name one`);
    return found;
  };

  if (Array.isArray(table.key)) {
    const seen = new Set<string>();
    table.key.forEach((name, i) => {
      if (!isText(name)) return;
      const path = ['table', 'key', i];
      if (seen.has(name)) return report(path, `table.key[${i}] ${quote(name)} is given twice; name each key column once`);
      seen.add(name);
      const c = column(path, name, 'the key');
      // A required of the wrong type is reported as such, not again here.
      if (c && (c.required == null || c.required === false)) {
        report(path, `table.key[${i}] ${quote(name)} is not a required column: a key column must have a value in every row, so set required: true on it`);
      }
    });
  }

  const policy = table.on_duplicate_key ?? 'reject';
  if (isOneOf(policy, KEY_POLICIES)) checkNewestBy(table, policy, column, report);

  if (isText(table.time_column)) {
    const c = column(['table', 'time_column'], table.time_column, 'time_column');
    if (c && isOneOf(c.type, COLUMN_TYPES) && !TIME_TYPES.includes(c.type)) {
      report(['table', 'time_column'], `table.time_column ${quote(table.time_column)} is a ${c.type} column; it must be a timestamptz or date column`);
    }
  }
}

function checkNewestBy(table: TableDto, policy: KeyPolicy, column: ColumnLookup, report: Report): void {
  if (policy === 'newest_wins' && table.newest_by == null) {
    report(['table', 'on_duplicate_key'], 'on_duplicate_key: newest_wins needs table.newest_by, the column whose greater value wins');
  }
  if (policy !== 'newest_wins' && table.newest_by != null) {
    report(['table', 'newest_by'], `table.newest_by applies only with on_duplicate_key: newest_wins (it is ${policy}); remove it`);
  } else if (isText(table.newest_by)) {
    const c = column(['table', 'newest_by'], table.newest_by, 'newest_by');
    if (c && isOneOf(c.type, COLUMN_TYPES) && !NEWEST_BY_TYPES.includes(c.type)) {
      report(['table', 'newest_by'], `table.newest_by ${quote(table.newest_by)} is a ${c.type} column; it must be a ${orList(NEWEST_BY_TYPES)} column`);
    }
  }
}

/** `a, b or c` */
function orList(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}` : items.join('');
}

function reportIf(report: Report, path: FieldPath, problem: string | null): void {
  if (problem) report(path, problem);
}

function isOneOf<T extends string>(v: unknown, values: readonly T[]): v is T {
  return typeof v === 'string' && (values as readonly string[]).includes(v);
}

function isText(v: unknown): v is string {
  return typeof v === 'string';
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isObject<T>(v: T | undefined | null): v is T {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
