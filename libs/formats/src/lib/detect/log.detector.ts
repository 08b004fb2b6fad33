import { INVALID_BYTE_MARK } from '../text/storable-text.util';
import type { KindDetector } from './detector';
import { looksJson } from './json-text.util';

/**
 * Names of formats Sluice has kinds for, or that are structured data it does not load: such a file that no
 * other detector took is a mistake to report (an unknown CSV header, a JSON shape), not a log to load.
 */
const STRUCTURED_NAME = /\.(?:csv|tsv|json|ndjson|jsonl|xml)$/i;

/** Share of odd characters above which a head is binary data rather than text with a few bad lines. */
export const BINARY_RATIO = 0.1;

/**
 * Whether a head looks binary: more than BINARY_RATIO of its characters are NUL, other C0 controls (tab,
 * LF, VT, FF, CR and ESC, which terminal colours use, are text) or bytes that are not UTF-8. UTF-16 text,
 * images, archives and executables are far above it; a log with a few NUL or Latin-1 lines is below it,
 * and those lines become row errors.
 */
export function looksBinary(text: string): boolean {
  let odd = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0x1b) || text[i] === INVALID_BYTE_MARK) odd++;
  }
  return odd > text.length * BINARY_RATIO;
}

/**
 * Plain-text line files (a log, SPEC §4.7): text that is no other kind, tried last. JSON that is no known
 * kind (an array, a string, lines of objects without `kind`) is refused, never loaded as lines; a
 * structured name and binary content are left to detectKind's refusals.
 */
export const logDetector: KindDetector = {
  name: 'log',
  detect({ text, fileName, complete }) {
    if (looksBinary(text)) return null;
    if (looksJson(text, complete)) return { reject: { rule: 'unrecognized_format', message: jsonMessage(text, fileName) } };
    if (STRUCTURED_NAME.test(fileName)) return null;
    return { kind: 'log' };
  },
};

function jsonMessage(text: string, fileName: string): string {
  const c = text.trimStart()[0];
  const what = c === '[' ? 'a list' : c === '"' ? 'a string' : c === '{' ? 'objects' : 'a bare value';
  return `${fileName} holds JSON (${what}) of no known kind: expected an object with "vehicle_status", "objects_detection_events" or "time_stamp" + "data", or NDJSON lines carrying "kind". JSON is not loaded as a log.`;
}
