/** How many bytes of content (after leading whitespace) `detectKind` wants to see at least. */
export const DETECT_HEAD_BYTES = 64 * 1024;

/**
 * Most bytes of leading whitespace (blank lines, spaces, a BOM) detection looks past for a file's content.
 * Skipping costs no memory, only reading; past it the file is refused for holding no content that early.
 */
export const DETECT_MAX_BLANK_BYTES = 16 * 1024 * 1024;

const isBlank = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Offset of the first byte after a leading BOM and whitespace (space, tab, CR, LF), looking at most `limit` bytes past them. */
export function contentStart(bytes: Buffer, limit = DETECT_MAX_BLANK_BYTES, bom = true): number {
  let i = bom && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const end = Math.min(bytes.length, i + limit);
  while (i < end && isBlank(bytes[i])) i++;
  return i;
}

/** Offset just past the first line break (LF, CRLF or a lone CR) among the first `within` bytes, or -1. */
export function firstLineEnd(bytes: Buffer, within = bytes.length): number {
  const head = bytes.subarray(0, within);
  const lf = head.indexOf(10);
  const cr = head.indexOf(13);
  if (cr < 0 || (lf >= 0 && lf < cr)) return lf < 0 ? -1 : lf + 1;
  return head[cr + 1] === 10 ? cr + 2 : cr + 1;
}

/**
 * Whether a head of `length` content bytes, `newline` telling if it holds a line break, is enough to detect
 * from: DETECT_HEAD_BYTES and the whole first line (a CSV header or an NDJSON line may be longer), read up
 * to `maxLineBytes` (the longest line accepted, MAX_LINE_BYTES).
 */
export function headIsEnough(length: number, newline: boolean, maxLineBytes: number): boolean {
  return length >= DETECT_HEAD_BYTES && (newline || length > maxLineBytes + 2);
}

/**
 * The head of `bytes` that `detectKind` takes: from the first byte that is not whitespace, DETECT_HEAD_BYTES
 * or the whole first line up to `maxLineBytes` (+ CRLF). When `bytes` hold only whitespace they are the
 * head as they are, so `detectKind` can tell an empty file (the head is all of it) from one whose content
 * starts past DETECT_MAX_BLANK_BYTES, whose head is DETECT_HEAD_BYTES of whitespace.
 */
export function detectionHead(bytes: Buffer, maxLineBytes: number): Buffer {
  const start = contentStart(bytes);
  if (start === bytes.length) return bytes;
  if (isBlank(bytes[start])) return BLANK_HEAD;
  const rest = bytes.subarray(start);
  const end = firstLineEnd(rest, maxLineBytes + 3);
  return rest.subarray(0, Math.max(DETECT_HEAD_BYTES, end < 0 ? rest.length : Math.min(end, maxLineBytes + 2)));
}

/** The head of a file with no content within DETECT_MAX_BLANK_BYTES. */
const BLANK_HEAD = Buffer.alloc(DETECT_HEAD_BYTES, 0x20);

/**
 * `detectionHead` of a stream, read as far as `headIsEnough` after its leading whitespace; whitespace
 * chunks are dropped as they come, so memory stays at the head whatever the blank prefix. The caller
 * closes the stream.
 */
export async function readDetectionHead(input: AsyncIterable<Buffer | string> | NodeJS.ReadableStream, maxLineBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  let newline = false;
  let blank = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (chunks.length === 0) {
      const at = contentStart(buf, DETECT_MAX_BLANK_BYTES - blank, blank === 0);
      if (at === buf.length) {
        blank += buf.length;
        continue;
      }
      if (isBlank(buf[at])) return BLANK_HEAD;
      buf = buf.subarray(at);
    }
    chunks.push(buf);
    length += buf.length;
    newline ||= buf.includes(10) || buf.includes(13);
    if (headIsEnough(length, newline, maxLineBytes)) break;
  }
  return detectionHead(Buffer.concat(chunks), maxLineBytes);
}
