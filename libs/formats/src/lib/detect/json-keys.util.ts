/**
 * Keys of the top-level object of a JSON text that may be cut off: scans strings and nesting only, so a
 * multi-gigabyte document is classified from its first bytes. Returns null when the text is not an object.
 */
export function topLevelKeys(text: string): string[] | null {
  let i = 0;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (text[i] !== '{') return null;
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escapes = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c) {
          escapes = true;
          j++;
        }
      }
      if (j >= text.length) break;
      if (depth === 1 && expectKey) keys.push(escapes ? withoutBackslashes(text, i + 1, j) : text.slice(i + 1, j));
      expectKey = false;
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      expectKey = c === 0x7b && depth === 1;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) break;
    } else if (c === 0x2c && depth === 1) expectKey = true;
  }
  return keys;
}

/** A member name with escapes, named as the detector always has: each backslash dropped with the character it escapes. */
function withoutBackslashes(text: string, start: number, end: number): string {
  let s = '';
  for (let k = start; k < end; k++) {
    if (text.charCodeAt(k) === 0x5c) k++;
    else s += text[k];
  }
  return s;
}
