import type { KindDetector } from './detector';

/** NDJSON: the first line is a whole JSON object carrying a string `kind` (SPEC §4.5). */
export const ndjsonDetector: KindDetector = {
  name: 'ndjson',
  detect({ text }) {
    const nl = text.indexOf('\n');
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
