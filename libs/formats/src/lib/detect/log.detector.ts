import { INVALID_BYTE_MARK } from '../text/storable-text.util';
import type { KindDetector } from './detector';

/**
 * Names of formats Sluice has kinds for, or that are structured data it does not load: such a file that no
 * other detector took is a mistake to report (an unknown CSV header, a JSON shape), not a log to load.
 */
const STRUCTURED_NAME = /\.(?:csv|tsv|json|ndjson|jsonl|xml)$/i;

/** JSON text that is no known kind (an array, a string, a number…): refused as before, never loaded as lines. */
const JSON_START = /^\s*(?:"|\[\s*(?:[[{"\]\d-]|true\b|false\b|null\b))/;

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

function looksJson(text: string, complete: boolean): boolean {
  if (JSON_START.test(text)) return true;
  if (!complete) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Plain-text line files (a log, SPEC §4.7): text that is no other kind, tried last. Structured names, JSON
 * and binary content are left to detectKind's refusals.
 */
export const logDetector: KindDetector = {
  name: 'log',
  detect({ text, fileName, complete }) {
    if (STRUCTURED_NAME.test(fileName) || looksJson(text, complete) || looksBinary(text)) return null;
    return { kind: 'log' };
  },
};
