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
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\') j++;
        else s += text[j];
      }
      if (j >= text.length) break;
      if (depth === 1 && expectKey) keys.push(s);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) break;
    } else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}
