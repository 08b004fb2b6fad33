/**
 * A JSON parser that knows where things are. JSON.parse gives neither the line of a value nor a clear
 * "cut off" vs "malformed" answer, and it rejects NaN/Infinity outright; a person fixing a file wants
 * `data[3] is NaN (line 7)`. So this parser:
 * - finds the line of any value by its path (`linesOf`), with a second scan that builds nothing, only
 *   when something is wrong: keeping a line per member would triple the memory of a large document,
 * - reads the tokens NaN, Infinity and -Infinity as numbers, so validation can name the field,
 * - tells a truncated document from a malformed one, and refuses nesting deeper than `maxDepth`.
 * Objects are created as plain objects; a `__proto__` key becomes an own property, as with JSON.parse.
 * One file, past 400 lines: the tokenizer, the value builder and the line finder share one state machine.
 */

export type JsonPath = ReadonlyArray<string | number>;

export type JsonSyntaxRule = 'invalid_json' | 'truncated_json' | 'json_too_deep';

export class JsonSyntaxError extends Error {
  /** The value itself was whole; what follows it is not JSON (trailing text). */
  afterValue = false;

  constructor(
    readonly rule: JsonSyntaxRule,
    message: string,
    /** 1-based line and column of the offending character. */
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

export interface ParsedJson {
  value: unknown;
  /**
   * Lines (counted from `firstLine`) where the values at `paths` start, by formatted path; a path that
   * does not exist gets the line of its nearest existing ancestor. One scan of the text for all paths.
   */
  linesOf(paths: readonly JsonPath[]): Map<string, number>;
}

export interface JsonParseOptions {
  maxDepth?: number;
  /** Line number of the text's first line (NDJSON passes the line it read). */
  firstLine?: number;
}

export const DEFAULT_MAX_JSON_DEPTH = 64;

export function parseJson(text: string, opts: JsonParseOptions = {}): ParsedJson {
  const firstLine = opts.firstLine ?? 1;
  const value = new Parser(text, opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH, firstLine).parseDocument();
  return { value, linesOf: (paths) => locateLines(text, paths, firstLine) };
}

/**
 * Lines of the values at `paths` in a JSON text already known to be valid: a scan that builds no value
 * and descends only into containers on the way to a wanted path.
 */
export function locateLines(text: string, paths: readonly JsonPath[], firstLine = 1): Map<string, number> {
  const prefixes = new Set<string>();
  for (const p of paths) for (let k = 0; k <= p.length; k++) prefixes.add(formatPath(p.slice(0, k)));
  const found = new Map<string, number>();
  let i = 0;
  let line = firstLine;
  const ws = () => {
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) line++;
      else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return;
    }
  };
  const str = (): string => {
    const start = ++i;
    let hasEscape = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        hasEscape = true;
        i++;
      } else if (c === 0x22) break;
    }
    const raw = text.slice(start, i++);
    return hasEscape ? (JSON.parse(`"${raw}"`) as string) : raw;
  };
  /** Skips one value, counting lines (strings cannot hold a raw line break). */
  const skip = () => {
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        str();
        i--;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) return;
        depth--;
        if (depth === 0) {
          i++;
          return;
        }
      } else if (c === 0x0a) line++;
      else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0d)) return;
    }
  };
  const visit = (key: string) => {
    if (prefixes.has(key) && !found.has(key)) found.set(key, line);
    if (!prefixes.has(key)) return skip();
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return;
      }
      for (;;) {
        ws();
        const keyLine = line;
        const name = str();
        ws();
        i++; // :
        ws();
        const child = key === '' ? name : `${key}.${name}`;
        if (prefixes.has(child)) found.set(child, keyLine);
        visit(child);
        ws();
        if (text.charCodeAt(i++) === 0x7d) return;
      }
    } else if (c === 0x5b) {
      i++;
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        ws();
        visit(`${key}[${n}]`);
        ws();
        if (text.charCodeAt(i++) === 0x5d) return;
      }
    } else skip();
  };
  ws();
  const rootLine = line;
  visit('');
  // A path that was not found answers with its nearest found ancestor.
  const out = new Map<string, number>();
  for (const p of paths) {
    let line = rootLine;
    for (let k = p.length; k >= 0; k--) {
      const at = found.get(formatPath(p.slice(0, k)));
      if (at !== undefined) {
        line = at;
        break;
      }
    }
    out.set(formatPath(p), line);
  }
  return out;
}

class Parser {
  private i = 0;
  private line: number;
  private lineStart = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    firstLine: number,
  ) {
    this.line = firstLine;
  }

  parseDocument(): unknown {
    this.ws();
    if (this.i >= this.s.length) throw this.error('truncated_json', 'the document is empty');
    const v = this.value(1);
    this.end();
    return v;
  }

  /** Reads `"name" :` of an object member and the whitespace after it. */
  private memberName(): string {
    this.ws();
    if (this.i >= this.s.length) throw this.error('truncated_json', 'the document ends inside an object');
    if (this.s.charCodeAt(this.i) !== 0x22) throw this.error('invalid_json', `expected a "quoted" member name, found ${this.describe()}`);
    const key = this.string();
    this.ws();
    if (this.i >= this.s.length) throw this.error('truncated_json', 'the document ends inside an object');
    if (this.s.charCodeAt(this.i) !== 0x3a) throw this.error('invalid_json', `expected ":" after "${key.slice(0, 40)}", found ${this.describe()}`);
    this.i++;
    this.ws();
    return key;
  }

  private end(): void {
    this.ws();
    if (this.i < this.s.length) {
      const e = this.error('invalid_json', `unexpected ${this.describe()} after the end of the JSON value`);
      e.afterValue = true;
      throw e;
    }
  }

  private value(depth: number): unknown {
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      case 0x4e: // N
        return this.literal('NaN', NaN);
      case 0x49: // I
        return this.literal('Infinity', Infinity);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        if (Number.isNaN(c)) throw this.error('truncated_json', 'the document ends where a value was expected');
        throw this.error('invalid_json', `unexpected ${this.describe()} where a value was expected`);
    }
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw this.error('json_too_deep', `nesting is deeper than ${this.maxDepth} levels`);
    this.i++;
    const obj: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return obj;
    }
    for (;;) {
      const key = this.memberName();
      const v = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x7d) {
        this.i++;
        return obj;
      }
      if (Number.isNaN(c)) throw this.error('truncated_json', 'the document ends inside an object');
      throw this.error('invalid_json', `expected "," or "}" in an object, found ${this.describe()}`);
    }
  }

  private array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw this.error('json_too_deep', `nesting is deeper than ${this.maxDepth} levels`);
    this.i++;
    const arr: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return arr;
    }
    for (;;) {
      this.ws();
      arr.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x5d) {
        this.i++;
        return arr;
      }
      if (Number.isNaN(c)) throw this.error('truncated_json', 'the document ends inside an array');
      throw this.error('invalid_json', `expected "," or "]" in an array, found ${this.describe()}`);
    }
  }

  private string(): string {
    const s = this.s;
    const start = ++this.i;
    // Fast path: no escapes.
    for (let j = start; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x22) {
        this.i = j + 1;
        return s.slice(start, j);
      }
      if (c === 0x5c) break;
      if (c < 0x20) {
        this.i = j;
        throw this.error('invalid_json', 'a control character (such as a raw line break) inside a string must be escaped');
      }
    }
    let out = '';
    let j = start;
    for (;;) {
      if (j >= s.length) {
        this.i = j;
        throw this.error('truncated_json', 'the document ends inside a string');
      }
      const c = s.charCodeAt(j);
      if (c === 0x22) {
        this.i = j + 1;
        return out;
      }
      if (c < 0x20) {
        this.i = j;
        throw this.error('invalid_json', 'a control character (such as a raw line break) inside a string must be escaped');
      }
      if (c !== 0x5c) {
        out += s[j++];
        continue;
      }
      const e = s[j + 1];
      if (e === undefined) {
        this.i = j + 1;
        throw this.error('truncated_json', 'the document ends inside a string');
      }
      const simple = ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        j += 2;
      } else if (e === 'u') {
        const hex = s.slice(j + 2, j + 6);
        if (hex.length < 4 && j + 6 > s.length) {
          this.i = s.length;
          throw this.error('truncated_json', 'the document ends inside a string');
        }
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.i = j;
          throw this.error('invalid_json', `"\\u${hex}" is not a valid unicode escape`);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        j += 6;
      } else {
        this.i = j;
        throw this.error('invalid_json', `"\\${e}" is not a valid escape`);
      }
    }
  }

  private number(): number {
    const s = this.s;
    const start = this.i;
    if (s.startsWith('-Infinity', start)) {
      this.i += 9;
      return -Infinity;
    }
    const end = scanNumber(s, start, Math.min(s.length, start + MAX_NUMBER_CHARS));
    if (end < 0) {
      if (start + 1 >= s.length) throw this.error('truncated_json', 'the document ends inside a number');
      throw this.error('invalid_json', `${this.describe()} is not a valid number`);
    }
    this.i = end;
    return Number(s.slice(start, end));
  }

  private literal(word: string, v: unknown): unknown {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    const rest = this.s.slice(this.i, this.i + word.length);
    if (this.i + rest.length >= this.s.length && word.startsWith(rest)) throw this.error('truncated_json', 'the document ends inside a literal');
    throw this.error('invalid_json', `unexpected ${this.describe()} where a value was expected`);
  }

  private ws(): void {
    const s = this.s;
    for (; this.i < s.length; this.i++) {
      const c = s.charCodeAt(this.i);
      if (c === 0x0a) {
        this.line++;
        this.lineStart = this.i + 1;
      } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return;
    }
  }

  private describe(): string {
    if (this.i >= this.s.length) return 'the end of the document';
    const word = /^[^\s,:{}[\]"]{1,20}/.exec(this.s.slice(this.i, this.i + 20));
    return word ? `"${word[0]}"` : `"${this.s[this.i]}"`;
  }

  private error(rule: JsonSyntaxRule, what: string): JsonSyntaxError {
    const column = this.i - this.lineStart + 1;
    return new JsonSyntaxError(rule, `${what} (line ${this.line}, column ${column})`, this.line, column);
  }
}

/** A number longer than this is read up to here (the rest is then not JSON where it stands). */
const MAX_NUMBER_CHARS = 400;

const isDigit = (s: string, j: number, end: number) => {
  const c = j < end ? s.charCodeAt(j) : -1;
  return c >= 0x30 && c <= 0x39;
};

/**
 * Where the longest JSON number (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) starting at `start` ends, looking no
 * further than `end`; -1 when none starts there. A scan by character codes: a regular expression allocated a
 * match and a string per number, most of what parsing a document of numbers cost.
 */
function scanNumber(s: string, start: number, end: number): number {
  let j = start;
  if (j < end && s.charCodeAt(j) === 0x2d) j++;
  if (!isDigit(s, j, end)) return -1;
  if (s.charCodeAt(j++) !== 0x30) while (isDigit(s, j, end)) j++;
  if (j < end && s.charCodeAt(j) === 0x2e && isDigit(s, j + 1, end)) {
    j += 2;
    while (isDigit(s, j, end)) j++;
  }
  if (j < end && (s.charCodeAt(j) | 0x20) === 0x65) {
    let k = j + 1;
    if (k < end && (s.charCodeAt(k) === 0x2b || s.charCodeAt(k) === 0x2d)) k++;
    if (isDigit(s, k, end)) {
      j = k + 1;
      while (isDigit(s, j, end)) j++;
    }
  }
  return j;
}
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** `vehicle_status[2].report_time` from ['vehicle_status', 2, 'report_time']. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? k : `.${k}`;
  }
  return out;
}
