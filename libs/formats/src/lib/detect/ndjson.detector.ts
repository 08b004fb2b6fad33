import type { KindDetector } from './detector';
import { topLevelKeys } from './json-keys.util';

/**
 * NDJSON: the first line that is not blank is a JSON object carrying a string `kind` (SPEC §4.5). A first line longer than
 * the head (over MAX_LINE_BYTES: it will be refused as line_too_long) is recognised by its top-level
 * `kind` member, which no JSON document kind has.
 */
export const ndjsonDetector: KindDetector = {
  name: 'ndjson',
  detect({ text: head, complete }) {
    // Blank lines are skipped by the NDJSON reader, so leading ones say nothing about the kind.
    const text = head.slice(Math.max(0, head.search(/\S/)));
    const nl = text.indexOf('\n');
    if (nl < 0 && !complete) return topLevelKeys(text)?.includes('kind') ? { kind: 'ndjson' } : null;
    const first = (nl < 0 ? text : text.slice(0, nl)).trim();
    if (!first.startsWith('{') || !first.endsWith('}')) return null;
    try {
      const obj: unknown = JSON.parse(first);
      if (obj && typeof obj === 'object' && !Array.isArray(obj) && typeof (obj as { kind?: unknown }).kind === 'string') return { kind: 'ndjson' };
    } catch {
      return null;
    }
    return null;
  },
};
