import { isUtf8 } from 'node:buffer';

/**
 * PostgreSQL `text` holds neither NUL nor anything that is not Unicode, and a driver would turn a lone
 * surrogate into U+FFFD without a word. So every format applies one rule to the text of a record: a NUL
 * is `invalid_character`, bytes that are not UTF-8 (or a lone `\ud800` escape) are `invalid_utf8`, and
 * either makes that record a row error with its line; the rest of the file loads.
 */
export type TextRule = 'invalid_character' | 'invalid_utf8';

/** NUL, or a UTF-16 surrogate without its pair (in `u` mode a well-formed pair is one code point). */
const UNSTORABLE = /[\0\p{Cs}]/u;

/** Why PostgreSQL cannot store `s` as text, or null when it can. */
export function textProblem(s: string): TextRule | null {
  const m = UNSTORABLE.exec(s);
  if (!m) return null;
  return m[0] === '\0' ? 'invalid_character' : 'invalid_utf8';
}

/** Whether `text` holds a control character other than tab, LF and CR (storable, but a sign of binary data). */
export function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}

/** A sentence for a `textProblem`, naming the field. */
export function textProblemMessage(rule: TextRule, field: string): string {
  return rule === 'invalid_character'
    ? `${field} holds a NUL character (\\u0000), which PostgreSQL text cannot store; remove it`
    : `${field} holds bytes that are not UTF-8 (or a lone \\ud800-\\udfff escape), which is not text; save the file as UTF-8`;
}

/** `s` made storable for messages and row errors: NUL and lone surrogates become U+FFFD. */
export function storable(s: string): string {
  return UNSTORABLE.test(s) ? s.replace(/[\0\p{Cs}]/gu, '\uFFFD') : s;
}

/** Stands for each byte that is not UTF-8 in `decodeMarked`'s text: no valid UTF-8 decodes to a lone surrogate. */
export const INVALID_BYTE_MARK = '\uDFFF';

/**
 * Decodes UTF-8 (a leading BOM dropped) with each byte that is not part of a valid sequence turned into
 * INVALID_BYTE_MARK, so the record holding it can be refused as `invalid_utf8` by `textProblem` while the
 * rest of the text is read.
 */
export function decodeMarked(buf: Buffer): string {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let start = 0;
  for (let at = firstInvalidUtf8(buf); at < buf.length; at = firstInvalidUtf8(buf, start)) {
    out += buf.toString('utf8', start, at) + INVALID_BYTE_MARK;
    start = at + 1;
  }
  return out + buf.toString('utf8', start);
}

/** Length of the UTF-8 sequence a lead byte starts (0 when it cannot start one). */
function sequenceLength(b: number): number {
  return b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
}

/**
 * Offset of the first byte, from `from`, that does not start a valid UTF-8 sequence (overlong forms,
 * surrogates and code points past U+10FFFF included; a sequence cut by the end counts), or `bytes.length`.
 */
export function firstInvalidUtf8(bytes: Uint8Array, from = 0): number {
  let i = from;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(b);
    if (n === 0 || i + n > bytes.length) return i;
    const b1 = bytes[i + 1];
    // The second byte's range is narrower after E0, ED, F0 and F4 (no overlongs, surrogates or > U+10FFFF).
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k < n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    i += n;
  }
  return bytes.length;
}

/**
 * Watches a byte stream, chunk by chunk, for bytes that are not UTF-8 and for NUL: `push` says what the
 * chunk (with a sequence the previous chunk cut) holds, at the speed of `buffer.isUtf8`, so a parser that
 * decodes leniently knows when it must check its records' text.
 */
export class TextWatch {
  /** A sequence cut at the end of the previous chunk. */
  private carry: Buffer | null = null;
  invalidUtf8 = false;
  nul = false;

  push(chunk: Buffer): void {
    let start = 0;
    if (this.carry) {
      const need = sequenceLength(this.carry[0]) - this.carry.length;
      const joined = Buffer.concat([this.carry, chunk.subarray(0, need)]);
      this.carry = null;
      if (joined.length < sequenceLength(joined[0])) {
        this.carry = joined;
        return;
      }
      if (!isUtf8(joined)) this.invalidUtf8 = true;
      start = Math.min(need, chunk.length);
    }
    const end = cutSequenceStart(chunk, start);
    if (!this.invalidUtf8 && !isUtf8(chunk.subarray(start, end))) this.invalidUtf8 = true;
    if (!this.nul && chunk.indexOf(0, start) >= 0) this.nul = true;
    if (end < chunk.length) this.carry = Buffer.from(chunk.subarray(end));
  }

  /** The end of the stream: a sequence still cut is not UTF-8. */
  end(): void {
    if (this.carry) this.invalidUtf8 = true;
    this.carry = null;
  }
}

/** Where a multi-byte sequence cut by the end of `chunk` starts (chunk.length when none is cut). */
export function cutSequenceStart(chunk: Buffer, from = 0): number {
  for (let i = chunk.length - 1; i >= Math.max(from, chunk.length - 3); i--) {
    const b = chunk[i];
    if (b < 0x80) break;
    if (b >= 0xc0) return chunk.length - i < sequenceLength(b) ? i : chunk.length;
  }
  return chunk.length;
}
