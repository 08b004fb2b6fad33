import { firstInvalidUtf8 } from '../text/storable-text.util';

/**
 * Splits a byte stream into lines without ever holding more than `maxLineBytes` of one line: a longer
 * line is reported as too long (its bytes are skipped up to the next newline), so a file without line
 * breaks cannot exhaust memory. Each line is decoded as strict UTF-8; CRLF (a lone CR with `loneCr`) and a
 * leading BOM are accepted.
 */
export type RawLine =
  | { line: number; text: string }
  | { line: number; error: 'line_too_long'; bytes: number }
  | { line: number; error: 'invalid_utf8'; byteOffset: number };

export interface ReadLinesOptions {
  /** A lone CR ends a line too (old Mac text files). NDJSON leaves it out: there a CR is whitespace inside a line. */
  loneCr?: boolean;
}

export async function* readLines(input: AsyncIterable<Buffer | string> | NodeJS.ReadableStream, maxLineBytes: number, opts: ReadLinesOptions = {}): AsyncGenerator<RawLine[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overflow = 0; // > 0 while skipping the rest of a too-long line
  let line = 0;
  let first = true;
  let batch: RawLine[] = [];
  // The LF of a CRLF whose CR ended the previous chunk (with loneCr).
  let skipLf = false;

  const finish = (tail: Buffer) => {
    line++;
    if (overflow > 0) {
      batch.push({ line, error: 'line_too_long', bytes: overflow + tail.length });
      overflow = 0;
      return;
    }
    let bytes = parts.length ? Buffer.concat([...parts, tail]) : tail;
    parts = [];
    partBytes = 0;
    if (bytes.length && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (first) {
      first = false;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    try {
      batch.push({ line, text: decoder.decode(bytes) });
    } catch {
      batch.push({ line, error: 'invalid_utf8', byteOffset: firstInvalidUtf8(bytes) });
    }
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    if (skipLf && buf.length) {
      if (buf[0] === 10) start = 1;
      skipLf = false;
    }
    // Next LF and CR from `start`, each searched again only once passed (a file may hold one and not the other).
    let lf = buf.indexOf(10, start);
    let cr = opts.loneCr ? buf.indexOf(13, start) : -1;
    for (;;) {
      if (lf >= 0 && lf < start) lf = buf.indexOf(10, start);
      if (cr >= 0 && cr < start) cr = buf.indexOf(13, start);
      const atCr = cr >= 0 && (lf < 0 || cr < lf);
      const end = atCr ? cr : lf;
      if (end < 0) break;
      const piece = buf.subarray(start, end);
      if (overflow === 0 && partBytes + piece.length > maxLineBytes) {
        overflow = partBytes;
        parts = [];
        partBytes = 0;
      }
      finish(piece);
      start = end + 1;
      if (atCr && start < buf.length && buf[start] === 10) start++;
      else if (atCr && start === buf.length) skipLf = true;
    }
    const rest = buf.subarray(start);
    if (rest.length) {
      if (overflow > 0) overflow += rest.length;
      else if (partBytes + rest.length > maxLineBytes) {
        overflow = partBytes + rest.length;
        parts = [];
        partBytes = 0;
      } else {
        // Copy: the chunk's buffer may be reused by the stream.
        parts.push(Buffer.from(rest));
        partBytes += rest.length;
      }
    }
    if (batch.length) {
      yield batch;
      batch = [];
    }
  }
  if (overflow > 0 || partBytes > 0) finish(Buffer.alloc(0));
  if (batch.length) yield batch;
}
