import { isUtf8 } from 'node:buffer';
import type { RejectReason } from '@sluice/contracts';
import { TokenParser, Tokenizer, TokenType, type ParsedTokenInfo } from '@streamparser/json';
import { cutSequenceStart, firstInvalidUtf8 } from '../text/storable-text.util';
import { DuplicateKeyTracker } from './duplicate-keys';
import { DEFAULT_MAX_JSON_DEPTH, JsonSyntaxError, type JsonPath } from './json-parser';

/*
 * Why @streamparser/json: of the streaming parsers for Node, it is maintained (releases through 2026), ships
 * CommonJS beside ESM with no dependencies, gives the byte offset of every token (so lines and columns can
 * be named), and keeps memory flat when told to drop what it has emitted. On a 100 MB vehicle_status
 * document (this machine, loaded) it read the items in 22 s where stream-json 3 (ESM only, a stream per
 * stage) took 74 s; clarinet and jsonparse have had no release in years. The hand-written parser
 * (json-parser.ts) reads the same items in 8 s, but from the whole text in memory, which is what this
 * module removes; validating the items costs more than either, and writing them more still.
 */

/** One element of a document's items array, parsed, with where it was. */
export interface DocumentItem {
  value: unknown;
  /** Its index in the array. */
  index: number;
  /** Line of its first character. */
  line: number;
  /** Its JSON text (to find the line of one of its fields); empty for a scalar item. */
  text(): string;
  /** Paths (within the item) of members its text names twice; the parsed value kept the last. */
  duplicates: JsonPath[];
}

/** What is left of a streamed document after its items: the top-level value without them. */
export interface StreamedDocument {
  /** The top-level value; of members other than the items only the first few, containers as empty ones. */
  top: unknown;
  /** Whether the document held an array at the items path (whose elements were yielded). */
  streamed: boolean;
  /** Members named like the items key beyond the first. */
  repeatedKey: boolean;
}

/** How a streamed document ended: its top-level shape (see streamedShapeProblem), or why it was refused. */
export type StreamedEnd = { doc: StreamedDocument; lineOf(member: string | undefined): number } | { reject: RejectReason };

export interface ItemStreamOptions {
  /** Longest item, and longest other single value or member name, in bytes (MAX_LINE_BYTES). */
  maxItemBytes: number;
  /** Deepest nesting (MAX_JSON_DEPTH). */
  maxDepth?: number;
  /** Largest document, a safety limit (MAX_JSON_DOCUMENT_BYTES). */
  maxDocumentBytes?: number;
}

/** Stands for a byte that is not UTF-8: read inside a string it is a lone surrogate, which validation refuses as invalid_utf8. */
const INVALID_BYTE_ESCAPE = Buffer.from('\\udfff');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** Top-level members other than the items remembered (with their line) for the shape check. */
const KEPT_MEMBERS = 16;

/** Thrown through the tokenizer to stop reading once the document is known to be unusable. */
class Stop {
  constructor(readonly end: StreamedEnd) {}
}

/**
 * Reads a document of the shape `{"<itemsKey>": [item, …]}` from a byte stream, yielding its items in
 * batches (one per chunk read) as they are parsed: neither the text nor the tree of the document is ever
 * held, only the item being read (at most `maxItemBytes`) and the chunk. Throws JsonSyntaxError (with line
 * and column) after the items before the error; returns the top-level shape, or the reason the document
 * was refused (too large a value, too large a document, empty) without reading the rest.
 *
 * `itemsKey` may also be a path of member names: `['data', 'readings']` reads the items of
 * `{"data": {"readings": [item, …]}}`, and `[]` those of a document that is itself the array. Members
 * beside the path are bounded by `maxItemBytes` each, as top-level members are.
 */
export async function* streamDocumentItems(
  input: AsyncIterable<Buffer | string> | NodeJS.ReadableStream,
  itemsKey: string | readonly string[],
  opts: ItemStreamOptions,
): AsyncGenerator<DocumentItem[], StreamedEnd, undefined> {
  const reader = new ItemReader(typeof itemsKey === 'string' ? [itemsKey] : itemsKey, opts);
  let carry: Buffer | null = null;
  let first = true;
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (carry) {
        buf = Buffer.concat([carry, buf]);
        carry = null;
      }
      if (first) {
        if (buf.length < BOM.length && BOM.subarray(0, buf.length).equals(buf)) {
          carry = buf;
          continue;
        }
        first = false;
        if (buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
      }
      // A UTF-8 sequence cut by the chunk's end waits for the next chunk, so each chunk can be checked whole.
      const end = cutSequenceStart(buf);
      if (end < buf.length) carry = Buffer.from(buf.subarray(end));
      const items = reader.write(markInvalidBytes(buf.subarray(0, end)));
      if (items.length) yield items;
    }
    if (carry) {
      const items = reader.write(markInvalidBytes(carry));
      if (items.length) yield items;
    }
    return reader.end();
  } catch (e) {
    if (e instanceof Stop) return e.end;
    throw e;
  }
}

/** The chunk with each byte that is not UTF-8 replaced by `\udfff` (the chunk itself when it is all UTF-8). */
function markInvalidBytes(buf: Buffer): Buffer {
  if (isUtf8(buf)) return buf;
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = firstInvalidUtf8(buf); at < buf.length; at = firstInvalidUtf8(buf, start)) {
    parts.push(buf.subarray(start, at), INVALID_BYTE_ESCAPE);
    start = at + 1;
  }
  parts.push(buf.subarray(start));
  return Buffer.concat(parts);
}

/** Where a record (an item, or a top-level member's value) started, while it is read. */
interface OpenRecord {
  start: number;
  /** Nesting depth its value sits at; it ends when a closing bracket comes back to it. */
  depth: number;
  line: number;
}

class ItemReader {
  private readonly tokenizer = new Tokenizer();
  private readonly parser: TokenParser;
  private readonly maxDepth: number;
  private items: DocumentItem[] = [];

  // Position: absolute offsets of the bytes fed, and the line/column they are on.
  private total = 0;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  /** Chunks still needed for the text of the open record (the current one last). */
  private kept: Array<{ buf: Buffer; start: number }> = [];
  private line = 1;
  private lineStart = 0;
  private counted = 0;

  // Structure, followed from the tokens.
  private depth = 0;
  private tokens = 0;
  private lastToken = 0;
  /** Offset of the first byte that is not whitespace, once seen: leading whitespace counts toward no limit but the document's. */
  private contentFrom: number | undefined;
  private expectKey = false;
  private key: string | undefined;
  /**
   * Depth of the innermost open object on the way to the items (the top-level object is 1; 0 before it, or
   * for a document that is the array itself): member names are followed only there.
   */
  private onPath = 0;
  private inItems = false;
  private record: OpenRecord | null = null;
  /** Member names of the item being read, to refuse one given twice. */
  private keys: DuplicateKeyTracker | null = null;
  private readonly top: Record<string, unknown> = {};
  private readonly memberLines = new Map<string, number>();
  private streamed = false;
  private repeatedKey = false;

  constructor(
    private readonly itemsPath: readonly string[],
    private readonly opts: ItemStreamOptions,
  ) {
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
    // keepStack false: an emitted item, and any value no path asks for, is dropped from its parent once read.
    this.parser = new TokenParser({ paths: [['$', ...itemsPath, '*'].join('.')], keepStack: false });
    this.parser.onValue = ({ value, key }) => {
      if (!this.inItems || !this.record) return;
      const { start, line } = this.record;
      this.items.push({ value, index: key as number, line, text: this.textFrom(start, this.lastToken + 1, typeof value === 'object' && value !== null), duplicates: this.keys?.found ?? [] });
    };
    this.tokenizer.onToken = (t) => this.onToken(t);
  }

  write(buf: Buffer): DocumentItem[] {
    if (this.opts.maxDocumentBytes !== undefined && this.total + buf.length > this.opts.maxDocumentBytes) {
      throw new Stop({ reject: { rule: 'file_too_large', message: `the document has more than ${this.opts.maxDocumentBytes} bytes (MAX_JSON_DOCUMENT_BYTES)` } });
    }
    this.chunk = buf;
    this.chunkStart = this.total;
    if (this.record) this.kept.push({ buf, start: this.total });
    this.total += buf.length;
    try {
      this.tokenizer.write(buf);
    } catch (e) {
      throw this.translate(e);
    }
    this.countLines(this.total);
    if (this.contentFrom === undefined) {
      const at = buf.findIndex((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
      if (at >= 0) this.contentFrom = this.chunkStart + at;
    }
    // A string or number still being read is held by the tokenizer: bound it (and the open record) here.
    const since = this.record ? this.record.start : this.tokens ? this.lastToken : (this.contentFrom ?? this.total);
    if (this.total - since > this.opts.maxItemBytes) throw this.tooLong(since);
    const items = this.items;
    this.items = [];
    return items;
  }

  end(): StreamedEnd {
    if (this.tokens === 0) return { reject: { rule: 'empty_file', message: 'the file is empty (or holds only whitespace)' } };
    try {
      this.tokenizer.end();
    } catch (e) {
      if (e instanceof JsonSyntaxError || e instanceof Stop) throw e;
      throw this.syntax('truncated_json', 'the document ends inside a value', this.total);
    }
    if (!this.parser.isEnded) throw this.syntax('truncated_json', `the document ends inside ${this.inItems ? 'the list of items' : 'an object or list'}`, this.total);
    return { doc: { top: this.top, streamed: this.streamed, repeatedKey: this.repeatedKey }, lineOf: (m) => (m === undefined ? 1 : (this.memberLines.get(m) ?? 1)) };
  }

  private onToken(t: ParsedTokenInfo): void {
    const { token, value, offset } = t;
    this.tokens++;
    this.lastToken = offset;
    const d = this.depth;
    if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
      if (d + 1 > this.maxDepth) throw this.syntax('json_too_deep', `nesting is deeper than ${this.maxDepth} levels`, offset);
      this.valueStarts(token, value, offset);
      this.depth = d + 1;
      if (this.onPath === d + 1) this.expectKey = true;
    } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
      this.depth = d - 1;
      if (this.depth === this.itemsPath.length && this.inItems && !this.record) this.inItems = false;
      if (this.onPath > this.depth) this.onPath = this.depth;
    } else if (token === TokenType.COMMA) {
      if (d === this.onPath && d > 0) this.expectKey = true;
    } else if (token === TokenType.STRING && d === this.onPath && d > 0 && this.expectKey) {
      this.expectKey = false;
      this.key = value as string;
      if (d === 1 && this.memberLines.size < KEPT_MEMBERS && !this.memberLines.has(this.key)) this.memberLines.set(this.key, this.lineAt(offset));
    } else if (token !== TokenType.COLON && token !== TokenType.SEPARATOR) {
      this.valueStarts(token, value, offset);
    }
    if (this.record && offset - this.record.start > this.opts.maxItemBytes) throw this.tooLong(this.record.start);
    if (this.keys) trackKeys(this.keys, token, value);
    try {
      this.parser.write(t);
    } catch (e) {
      throw this.parserError(e, token, value, offset);
    }
    // The record's last token: the parser has emitted it (an item) or dropped it.
    if (this.record && this.depth === this.record.depth && token !== TokenType.LEFT_BRACE && token !== TokenType.LEFT_BRACKET) this.closeRecord();
  }

  /** A value starts at `offset` at the current depth: the top-level value, a member of an object on the path, or an item. */
  private valueStarts(token: TokenType, value: unknown, offset: number): void {
    const d = this.depth;
    const path = this.itemsPath;
    if (d === 0) {
      const wanted = path.length === 0 ? TokenType.LEFT_BRACKET : TokenType.LEFT_BRACE;
      if (token !== wanted) throw new Stop({ doc: { top: placeholder(token, value), streamed: false, repeatedKey: false }, lineOf: () => 1 });
      if (path.length === 0) this.streamed = this.inItems = true;
      else this.onPath = 1;
    } else if (d === this.onPath && this.key !== undefined) {
      const key = this.key;
      this.key = undefined;
      if (key === path[d - 1]) {
        const last = d === path.length;
        if (this.streamed || (d === 1 && key in this.top)) this.repeatedKey = true;
        else if (last && token === TokenType.LEFT_BRACKET) {
          this.streamed = this.inItems = true;
          return;
        } else if (!last && token === TokenType.LEFT_BRACE) {
          this.onPath = d + 1;
          return;
        }
      }
      // Enough of the other members to name the first in a refusal, however many there are.
      if (d === 1 && (key === path[0] ? !(key in this.top) : Object.keys(this.top).length < KEPT_MEMBERS)) this.top[key] = placeholder(token, value);
      this.openRecord(offset, d);
    } else if (d === path.length + 1 && this.inItems && !this.record) {
      this.openRecord(offset, d);
      this.keys = new DuplicateKeyTracker();
    }
  }

  private openRecord(start: number, depth: number): void {
    this.record = { start, depth, line: this.lineAt(start) };
    this.kept = [{ buf: this.chunk, start: this.chunkStart }];
  }

  private closeRecord(): void {
    this.record = null;
    this.kept = [];
    this.keys = null;
  }

  /** The text of bytes [from, to) of the open record, decoded only when asked. */
  private textFrom(from: number, to: number, container: boolean): () => string {
    if (!container) return () => '';
    const kept = this.kept;
    if (kept.length === 1) {
      const { buf, start } = kept[0];
      return () => buf.toString('utf8', from - start, to - start);
    }
    const bytes = Buffer.concat(kept.map((k) => k.buf)).subarray(from - kept[0].start, to - kept[0].start);
    return () => bytes.toString('utf8');
  }

  /** Counts line breaks in the current chunk up to absolute offset `to`. */
  private countLines(to: number): void {
    const buf = this.chunk;
    let i = Math.max(this.counted, this.chunkStart) - this.chunkStart;
    const end = Math.min(to, this.total) - this.chunkStart;
    for (let nl = buf.indexOf(0x0a, i); nl >= 0 && nl < end; nl = buf.indexOf(0x0a, i)) {
      this.line++;
      this.lineStart = this.chunkStart + nl + 1;
      i = nl + 1;
    }
    if (to > this.counted) this.counted = Math.min(to, this.total);
  }

  /**
   * Line of an absolute offset. Tokens come in order; one that began in an earlier chunk (a long string or
   * number) holds no line break, so the line counted so far is its line.
   */
  private lineAt(offset: number): number {
    if (offset > this.counted) this.countLines(offset);
    return this.line;
  }

  private syntax(rule: 'invalid_json' | 'truncated_json' | 'json_too_deep', what: string, offset: number): JsonSyntaxError {
    const line = this.lineAt(offset);
    const column = Math.max(1, offset - this.lineStart + 1);
    return new JsonSyntaxError(rule, `${what} (line ${line}, column ${column})`, line, column);
  }

  private tooLong(since: number): Stop {
    const line = this.lineAt(since);
    const what = this.record
      ? this.inItems
        ? `an item of ${this.itemsPath.join('.') || 'the document'}`
        : `a ${this.onPath > 1 ? 'member' : 'top-level member'}`
      : 'a member name, string, number or run of whitespace';
    return new Stop({
      reject: { rule: 'too_long', line, message: `line ${line}: ${what} has more than ${this.opts.maxItemBytes} bytes; an item of a JSON document may have at most MAX_LINE_BYTES, as an NDJSON line` },
    });
  }

  /** A tokenizer error (a byte that cannot be there) as a syntax error at its position. */
  private translate(e: unknown): unknown {
    if (e instanceof Stop || e instanceof JsonSyntaxError || !(e instanceof Error)) return e;
    const m = /^Unexpected "([\s\S])".*absolute position "(\d+)"/.exec(e.message);
    if (!m) return e;
    const c = m[1];
    const what =
      c === 'N' || c === 'I'
        ? 'NaN and Infinity are not JSON numbers'
        : c === '\\'
          ? 'unexpected "\\" (or a byte that is not UTF-8) outside a string'
          : c < ' '
            ? 'a control character (such as a raw line break) inside a string must be escaped'
            : `unexpected "${c}"`;
    return this.syntax('invalid_json', what, Number(m[2]));
  }

  private parserError(e: unknown, token: TokenType, value: unknown, offset: number): unknown {
    if (e instanceof Stop || e instanceof JsonSyntaxError) return e;
    const shown = token === TokenType.STRING ? JSON.stringify(value).slice(0, 40) : `"${String(value).slice(0, 20)}"`;
    const what = this.parser.isEnded ? `unexpected ${shown} after the end of the JSON value` : `unexpected ${shown}`;
    return this.syntax('invalid_json', what, offset);
  }
}

/** Feeds one token of an item to its duplicate-key tracker. */
function trackKeys(keys: DuplicateKeyTracker, token: TokenType, value: unknown): void {
  if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) keys.open(token === TokenType.LEFT_BRACE);
  else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) keys.close();
  else if (token === TokenType.COMMA) keys.comma();
  else if (token === TokenType.STRING) keys.string(value as string);
}

/** What the shape check needs of a top-level value that is not kept: the scalar itself, or an empty container. */
function placeholder(token: TokenType, value: unknown): unknown {
  if (token === TokenType.LEFT_BRACE) return {};
  if (token === TokenType.LEFT_BRACKET) return [];
  return value;
}
