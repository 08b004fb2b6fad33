import type { JsonPath } from './json-parser';

/** What a JSON reader knows of one open container while it looks for repeated member names. */
interface Frame {
  /** Member names of an object so far; null for an array. */
  keys: Set<string> | null;
  /** The member being read (an object) or the element's index (an array). */
  at: string | number;
}

/**
 * Follows the structure of a JSON text, token by token, and reports members named twice in one object:
 * JSON.parse and most parsers keep the last value without a word, so a repeated field is refused instead.
 * Fed by a character scan (`duplicateKeys`) or by a streaming tokenizer's tokens.
 */
export class DuplicateKeyTracker {
  private readonly stack: Frame[] = [];
  private expectKey = false;
  readonly found: JsonPath[] = [];

  constructor(private readonly limit = 5) {}

  open(object: boolean): void {
    this.stack.push({ keys: object ? new Set() : null, at: object ? '' : 0 });
    this.expectKey = object;
  }

  close(): void {
    this.stack.pop();
    this.expectKey = false;
  }

  comma(): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    if (top.keys) this.expectKey = true;
    else (top.at as number)++;
  }

  /** A string token: a member name where one is expected, else a value. */
  string(value: string): void {
    if (!this.expectKey) return;
    this.expectKey = false;
    const top = this.stack[this.stack.length - 1];
    if (!top?.keys) return;
    top.at = value;
    if (!top.keys.has(value)) top.keys.add(value);
    else if (this.found.length < this.limit) this.found.push(this.stack.map((f) => f.at));
  }
}

/**
 * Paths of the members named twice in one object of a JSON text (the first `limit`), in text order.
 * Run it on text that parsed: it follows strings and brackets only, so it costs a fraction of a parse.
 */
export function duplicateKeys(text: string, limit = 5): JsonPath[] {
  const t = new DuplicateKeyTracker(limit);
  for (let i = 0; i < text.length && t.found.length < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = text.indexOf('"', i + 1);
      while (end > 0 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end < 0) break;
      const raw = text.slice(i + 1, end);
      t.string(raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw);
      i = end;
    } else if (c === 0x7b || c === 0x5b) t.open(c === 0x7b);
    else if (c === 0x7d || c === 0x5d) t.close();
    else if (c === 0x2c) t.comma();
  }
  return t.found;
}

/** Whether the quote at `at` is escaped (an odd run of backslashes before it). */
function escaped(text: string, at: number): boolean {
  let n = 0;
  for (let k = at - 1; text.charCodeAt(k) === 0x5c; k--) n++;
  return n % 2 === 1;
}
