import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import {
  csvSampleColumns,
  findRecordsPath,
  recordSampleColumns,
  sampleRecords,
  sniffCsv,
  type ContractFormat,
  type CsvFormat,
  type RecordInput,
  type RecordLimits,
  type RecordSample,
  type SampledColumn,
} from '@sluice/datasets';
import { CliError } from '../cli-error';

/** Bytes of a CSV or NDJSON file sampled: the start of a file says what its columns are. */
export const MAX_SAMPLE_BYTES = 1024 * 1024;
/** Records sampled. */
export const MAX_SAMPLE_RECORDS = 1_000;
/** A JSON document is parsed whole (to find its records) up to this size, and read at most this far for a sample. */
export const MAX_JSON_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** What one sampled record may hold. */
export const SAMPLE_LIMITS: RecordLimits = { maxLineBytes: 1024 * 1024, maxColumns: 2_000 };

/** A dotted path of member names, as a contract's `records_path` takes it. */
const RECORDS_PATH = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const MAX_RECORDS_PATH_LENGTH = 1_024;
/** Compressed files: Sluice unpacks them when it loads them, but a sample needs the text. */
const COMPRESSED = /\.(?:gz|zip|bz2|xz|zst)$/i;

/** A file's sampled columns, read with a format. */
export interface FileSample {
  format: ContractFormat;
  columns: SampledColumn[];
  rowsSampled: number;
  /** Things the person should know about the sample (a latin1 guess, a records path found). */
  notes: string[];
}

/** FILE's size, when it is a regular file; a usage error naming it otherwise. */
export async function regularFileSize(file: string): Promise<number> {
  let info;
  try {
    info = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw CliError.usage(code === 'ENOENT' ? `no file ${file}` : `cannot read ${file} (${code ?? 'error'})`);
  }
  if (!info.isFile()) throw CliError.usage(`${file} is not a regular file`);
  return info.size;
}

/** Why a `--records-path` cannot be a contract's `records_path`, or null. */
export function recordsPathProblem(path: string): string | null {
  if (path === '' || (path.length <= MAX_RECORDS_PATH_LENGTH && RECORDS_PATH.test(path))) return null;
  return `--records-path ${JSON.stringify(path.slice(0, 100))} is not a dotted path of member names (data.readings: letters, digits, _ and -)`;
}

/**
 * Samples a file whose format is not known yet, for `contract init`: `.ndjson`/`.jsonl` is NDJSON, `.json` a JSON
 * document (its records found with `findRecordsPath`, or at `recordsPath`), anything else CSV, its format sniffed
 * and read as latin1 when the bytes are not UTF-8.
 */
export async function sampleNewFile(file: string, size: number, recordsPath?: string): Promise<FileSample> {
  const name = basename(file).toLowerCase();
  if (COMPRESSED.test(name)) throw CliError.usage(`${file} is compressed; unpack it and give the file inside`);
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return sampleWithFormat(file, size, { type: 'ndjson' });
  if (name.endsWith('.json')) {
    const notes: string[] = [];
    let path = recordsPath;
    if (path === undefined) {
      path = await findJsonRecords(file, size);
      notes.push(path === '' ? 'the document is an array of records' : `records found at ${path} (records_path)`);
    }
    return { ...(await sampleWithFormat(file, size, { type: 'json', recordsPath: path })), notes };
  }
  const head = await readHead(file, size);
  const utf8 = isUtf8(head);
  const text = head.toString(utf8 ? 'utf8' : 'latin1');
  const sniff = sniffCsv(text);
  // Without a header the columns need names: column_1, column_2… as the contract's format.columns.
  const columns = sniff.header ? undefined : csvSampleColumns(text, sniff).map((c) => c.source);
  const format: CsvFormat = { type: 'csv', ...sniff, encoding: utf8 ? 'utf-8' : 'latin1', ...(columns && { columns }) };
  const sample = await sampleWithFormat(file, size, format, head);
  return { ...sample, notes: utf8 ? [] : ['the bytes are not valid UTF-8: read as latin1 (encoding: latin1); check the text columns'] };
}

/** Samples a file as `format` reads it: at most MAX_SAMPLE_RECORDS records of its first MAX_SAMPLE_BYTES (JSON: 16 MiB). */
export async function sampleWithFormat(file: string, size: number, format: ContractFormat, head?: Buffer): Promise<FileSample> {
  const input: RecordInput =
    format.type === 'json' ? createReadStream(file, { end: MAX_JSON_DOCUMENT_BYTES - 1 }) : Readable.from([head ?? (await readHead(file, size))]);
  const sample = await sampleRecords(input, format, SAMPLE_LIMITS, MAX_SAMPLE_RECORDS);
  if (sample.records.length === 0 && !sample.header && sample.rejects.length > 0) {
    throw new CliError(`cannot read ${file} as ${format.type.toUpperCase()}: ${sample.rejects[0].message}`);
  }
  return { format, columns: sampleColumns(sample), rowsSampled: sample.records.length, notes: [] };
}

/** The columns of a sample: the CSV header with each column's values, or the leaf paths of JSON records. */
function sampleColumns(sample: RecordSample): SampledColumn[] {
  if (sample.header) {
    return sample.header.map((source, i) => ({ source, samples: sample.records.map((r) => (Array.isArray(r.values) ? (r.values[i] ?? '') : '')) }));
  }
  return recordSampleColumns(sample.records.map((r) => r.values));
}

/** The path of the records in a JSON document of at most MAX_JSON_DOCUMENT_BYTES. */
async function findJsonRecords(file: string, size: number): Promise<string> {
  if (size > MAX_JSON_DOCUMENT_BYTES) {
    throw CliError.usage(
      `${file} is ${mib(size)}, larger than the ${mib(MAX_JSON_DOCUMENT_BYTES)} read whole to find its records; give --records-path (the dotted path of the array of records, e.g. data.readings)`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file} is not a JSON document (${(e as Error).message}); if it holds one JSON object a line, name it .ndjson`);
  }
  const path = findRecordsPath(document);
  if (path === null) throw new CliError(`${file} holds no array of records (objects); give --records-path if they are deeper than 8 levels`);
  return path;
}

/**
 * The first MAX_SAMPLE_BYTES of a file; when the file goes on, up to its last line break there, so no record is
 * cut in two.
 */
async function readHead(file: string, size: number): Promise<Buffer> {
  const length = Math.min(size, MAX_SAMPLE_BYTES);
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    const head = buffer.subarray(0, bytesRead);
    if (size <= MAX_SAMPLE_BYTES) return head;
    const lastBreak = head.lastIndexOf(0x0a);
    return lastBreak > 0 ? head.subarray(0, lastBreak + 1) : head;
  } finally {
    await handle.close();
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
