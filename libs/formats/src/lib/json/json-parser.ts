/**
 * A JSON parser that knows where things are. JSON.parse gives neither the line of a value nor a clear
 * "cut off" vs "malformed" answer, and it rejects NaN/Infinity outright; a person fixing a file wants
 * `data[3] is NaN (line 7)`. So this parser:
 * - records the line of every array element and object member (read back with `lineOf(path)`),
 * - reads the tokens NaN, Infinity and -Infinity as numbers, so validation can name the field,
 * - tells a truncated document from a malformed one, and refuses nesting deeper than `maxDepth`.
 * Objects are created as plain objects; a `__proto__` key becomes an own property, as with JSON.parse.
 */

export type JsonPath = ReadonlyArray<string | number>;

export type JsonSyntaxRule = 'invalid_json' | 'truncated_json' | 'json_too_deep';

export class JsonSyntaxError extends Error {
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
  /** Line (1-based, counted from `firstLine`) where the value at `path` starts; the nearest known ancestor otherwise. */
  lineOf(path: JsonPath): number;
}

export interface JsonParseOptions {
  maxDepth?: number;
  /** Line number of the text's first line (NDJSON passes the line it read). */
  firstLine?: number;
}

export const DEFAULT_MAX_JSON_DEPTH = 64;

/** Where the members of a container start: element lines for arrays, member lines by key for objects. */
type Lines = number[] | Map<string, number>;

export function parseJson(text: string, opts: JsonParseOptions = {}): ParsedJson {
  const p = new Parser(text, opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH, opts.firstLine ?? 1);
  const value = p.parseDocument();
  const lines = p.lines;
  const first = p.firstValueLine;
  return {
    value,
    lineOf(path) {
      let node: unknown = value;
      let line = first;
      for (const key of path) {
        if (node === null || typeof node !== 'object') break;
        const l = lines.get(node);
        const at = l === undefined ? undefined : Array.isArray(l) ? l[key as number] : l.get(String(key));
        if (at === undefined) break;
        line = at;
        node = (node as Record<string | number, unknown>)[key];
      }
      return line;
    },
  };
}

class Parser {
  readonly lines = new WeakMap<object, Lines>();
  firstValueLine = 1;
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
    this.firstValueLine = this.line;
    const v = this.value(1);
    this.ws();
    if (this.i < this.s.length) throw this.error('invalid_json', `unexpected ${this.describe()} after the end of the JSON value`);
    return v;
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
    const lines = new Map<string, number>();
    this.lines.set(obj, lines);
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) throw this.error('truncated_json', 'the document ends inside an object');
      if (this.s.charCodeAt(this.i) !== 0x22) throw this.error('invalid_json', `expected a "quoted" member name, found ${this.describe()}`);
      const keyLine = this.line;
      const key = this.string();
      this.ws();
      if (this.i >= this.s.length) throw this.error('truncated_json', 'the document ends inside an object');
      if (this.s.charCodeAt(this.i) !== 0x3a) throw this.error('invalid_json', `expected ":" after "${key.slice(0, 40)}", found ${this.describe()}`);
      this.i++;
      this.ws();
      const v = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      lines.set(key, keyLine);
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
    const lines: number[] = [];
    this.lines.set(arr, lines);
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return arr;
    }
    for (;;) {
      this.ws();
      lines.push(this.line);
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
    const m = NUMBER.exec(s.slice(start, start + 400));
    if (!m || m[0] === '-') {
      if (start + 1 >= s.length) throw this.error('truncated_json', 'the document ends inside a number');
      throw this.error('invalid_json', `${this.describe()} is not a valid number`);
    }
    this.i += m[0].length;
    return Number(m[0]);
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

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/;
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
