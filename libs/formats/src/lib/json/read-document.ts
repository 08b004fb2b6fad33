import type { RejectReason } from '@sluice/contracts';
import { decodeMarked } from '../text/storable-text.util';
import { DEFAULT_MAX_JSON_DEPTH, JsonSyntaxError, parseJson, type ParsedJson } from './json-parser';

/**
 * A measurement document is one record (at most MEASUREMENT_MAX_SAMPLES samples, ~25 MB as text) and is
 * read whole, so its size is capped; documents with a list of items stream (`streamDocumentItems`).
 */
export const MEASUREMENT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

export interface ReadDocumentOptions {
  maxBytes?: number;
  maxDepth?: number;
  /** What the text is, for the refusal of a larger one. */
  what?: string;
}

/**
 * Reads one JSON document from a stream as text: the text, or why the file cannot be used
 * (file_too_large, empty_file), with the line where it applies.
 */
export async function readJsonText(input: AsyncIterable<Buffer | string> | NodeJS.ReadableStream, opts: ReadDocumentOptions = {}): Promise<string | { reject: RejectReason }> {
  const maxBytes = opts.maxBytes ?? MEASUREMENT_MAX_DOCUMENT_BYTES;
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buf.length;
    if (bytes > maxBytes) {
      return { reject: { rule: 'file_too_large', message: `a ${opts.what ?? 'JSON document'} is read whole and may have at most ${maxBytes} bytes; this one is larger` } };
    }
    chunks.push(buf);
  }
  const text = decode(chunks);
  if (text.trim() === '') return { reject: { rule: 'empty_file', message: 'the file is empty (or holds only whitespace)' } };
  return text;
}

/** Reads and parses one JSON document: the value (with `linesOf`), or why the file cannot be used. */
export async function readJsonDocument(input: AsyncIterable<Buffer | string> | NodeJS.ReadableStream, opts: ReadDocumentOptions = {}): Promise<ParsedJson | { reject: RejectReason }> {
  const text = await readJsonText(input, opts);
  if (typeof text !== 'string') return text;
  try {
    return parseJson(text, { maxDepth: opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH });
  } catch (e) {
    const reject = syntaxReject(e);
    if (!reject) throw e;
    return { reject };
  }
}

/** The quarantine reason of a JsonSyntaxError (null for any other error). */
export function syntaxReject(e: unknown): RejectReason | null {
  if (!(e instanceof JsonSyntaxError)) return null;
  return { rule: e.rule, message: `the file is not usable JSON: ${e.message}`, line: e.line, column: String(e.column) };
}

/**
 * The chunks as text; the bytes are dropped before parsing (not held twice). Bytes that are not UTF-8 are
 * marked rather than refusing the file: inside a string they make that item an `invalid_utf8` row error.
 */
function decode(chunks: Buffer[]): string {
  const buf = Buffer.concat(chunks);
  chunks.length = 0;
  return decodeMarked(buf);
}
