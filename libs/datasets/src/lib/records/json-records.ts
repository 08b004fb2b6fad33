import {
  cap,
  DEFAULT_MAX_JSON_DEPTH,
  duplicateKeys,
  formatPath,
  JsonSyntaxError,
  parseJson,
  readLines,
  streamDocumentItems,
  textProblem,
  textProblemMessage,
  type DocumentItem,
  type JsonPath,
  type RowReject,
  type StreamedEnd,
  type TextRule,
} from '@sluice/formats';
import type { JsonFormat } from '../contract';
import { recordReject, type RecordBatch, type RecordInput, type RecordLimits, type SourceRecord } from './record-batch';

/**
 * Streams the records of an NDJSON file: one JSON object per line, blank lines skipped. A line that is not
 * a JSON object (or not UTF-8, or too long) is a reject with its line; the rest of the file is read.
 */
export async function* readNdjsonRecords(input: RecordInput, limits: RecordLimits): AsyncGenerator<RecordBatch> {
  const maxDepth = limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  for await (const lines of readLines(input, limits.maxLineBytes)) {
    const batch: RecordBatch = { records: [], rejects: [] };
    for (const raw of lines) {
      if ('error' in raw) {
        const message =
          raw.error === 'line_too_long'
            ? `the line has ${raw.bytes} bytes; a line may have at most ${limits.maxLineBytes} (MAX_LINE_BYTES)`
            : `byte ${raw.byteOffset + 1} of the line starts a sequence that is not UTF-8; save the file as UTF-8`;
        batch.rejects.push(recordReject(raw.line, raw.error, message));
        continue;
      }
      if (raw.text.trim() === '') continue;
      let value: unknown;
      try {
        value = parseJson(raw.text, { maxDepth, firstLine: raw.line }).value;
      } catch (e) {
        if (!(e instanceof JsonSyntaxError)) throw e;
        batch.rejects.push({ ...recordReject(raw.line, e.rule, `the line is not usable JSON: ${e.message}`, raw.text), column: String(e.column) });
        continue;
      }
      const record = checkedRecord(value, raw.line, 'the line', () => raw.text, () => duplicateKeys(raw.text, 1));
      if ('rule' in record) batch.rejects.push(record);
      else batch.records.push(record);
    }
    if (batch.records.length || batch.rejects.length) yield batch;
  }
}

/**
 * Streams the records of a JSON document: the items of the array at `format.recordsPath`, each with the
 * line it starts on, never holding more of the document than one item. An item that is not an object is a
 * reject; a syntax error, a document too large, or one without an array at the path ends the file with one.
 */
export async function* readJsonRecords(input: RecordInput, format: JsonFormat, limits: RecordLimits): AsyncGenerator<RecordBatch> {
  const path = format.recordsPath === '' ? [] : format.recordsPath.split('.');
  const where = path.length ? `"${format.recordsPath}"` : 'the document';
  const items = streamDocumentItems(input, path, { maxItemBytes: limits.maxLineBytes, maxDepth: limits.maxJsonDepth, maxDocumentBytes: limits.maxDocumentBytes });
  let end: StreamedEnd;
  try {
    for (;;) {
      let next: IteratorResult<DocumentItem[], StreamedEnd>;
      try {
        next = await items.next();
      } catch (e) {
        if (!(e instanceof JsonSyntaxError)) throw e;
        yield { records: [], rejects: [{ ...recordReject(e.line, e.rule, `the document is not usable JSON: ${e.message}; the file is read no further`), column: String(e.column) }] };
        return;
      }
      if (next.done) {
        end = next.value;
        break;
      }
      const batch: RecordBatch = { records: [], rejects: [] };
      for (const item of next.value) {
        const record = checkedRecord(item.value, item.line, `item ${item.index + 1} of ${where}`, () => item.text() || JSON.stringify(item.value), () => item.duplicates);
        if ('rule' in record) batch.rejects.push(record);
        else batch.records.push(record);
      }
      if (batch.records.length || batch.rejects.length) yield batch;
    }
  } finally {
    // Stopped early by the consumer: the document stream closes its input.
    await items.return(undefined as never);
  }
  const reject = endReject(end, path, where);
  if (reject) yield { records: [], rejects: [reject] };
}

/** Why a streamed document's end refuses the file, or null. */
function endReject(end: StreamedEnd, path: readonly string[], where: string): RowReject | null {
  if ('reject' in end) {
    // too_long, file_too_large or empty_file; the message names the line where there is one.
    const { rule, message, line } = end.reject;
    const known: RowReject['rule'][] = ['too_long', 'file_too_large', 'empty_file'];
    return { line: line ?? 1, column: null, rule: known.find((k) => k === rule) ?? 'invalid_document', message, value: null, raw: '' };
  }
  const line = end.lineOf(path[0]);
  if (!end.doc.streamed) {
    const message = path.length
      ? `the document has no array at ${where} (format.recordsPath); the records must be the items of an array there`
      : 'the document is not an array; with an empty format.recordsPath the records must be the items of the document itself';
    return recordReject(line, 'invalid_document', message);
  }
  if (end.doc.repeatedKey) return recordReject(line, 'duplicate_key', `the document names ${where} more than once; only the records of the first were read`);
  return null;
}

/**
 * The record of a parsed value, or why it is refused: it is not an object, it names a member twice (which
 * of the two was meant is unknown), or it holds text PostgreSQL cannot store.
 */
function checkedRecord(value: unknown, line: number, what: string, text: () => string, duplicates: () => readonly JsonPath[]): SourceRecord | RowReject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return recordReject(line, 'invalid_type', `${what} is ${describe(value)}, not an object; every record must be a JSON object`, text());
  }
  const twice = duplicates()[0];
  if (twice) {
    const field = formatPath(twice);
    return recordReject(line, 'duplicate_key', `${what} names "${cap(field, 100)}" twice; which value is meant is unknown`, text(), field);
  }
  const bad = unstorable(value, []);
  if (bad) {
    const field = formatPath(bad.path);
    return recordReject(line, bad.rule, textProblemMessage(bad.rule, `field "${cap(field, 100)}"`), text(), field);
  }
  return { line, values: value as Record<string, unknown> };
}

/** The first string (or member name) in a value that PostgreSQL text cannot hold, with its path. */
function unstorable(value: unknown, path: (string | number)[]): { path: JsonPath; rule: TextRule } | null {
  if (typeof value === 'string') {
    const rule = textProblem(value);
    return rule ? { path, rule } : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unstorable(value[i], [...path, i]);
      if (bad) return bad;
    }
    return null;
  }
  for (const [key, member] of Object.entries(value)) {
    const keyRule = textProblem(key);
    if (keyRule) return { path: [...path, key], rule: keyRule };
    const bad = unstorable(member, [...path, key]);
    if (bad) return bad;
  }
  return null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(cap(value, 40))})`;
  return `a ${typeof value} (${cap(String(value), 40)})`;
}
