import { ApiException } from '@sluice/http';
import { TS_US } from '../http/cursor.util';

const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** A cursor holding the sort key of the last row of a page: a JSON array of strings, base64url. */
export function encodeKeyset(parts: readonly string[]): string {
  return encode(JSON.stringify(parts));
}

/**
 * Decodes a cursor of `shape` (`ts` for a microsecond timestamp, `text` for any string) or throws 400
 * naming `parameter`. Only a cursor this API could have written is accepted.
 */
export function decodeKeyset(cursor: string, shape: readonly ('ts' | 'text')[], parameter = 'cursor', maxChars = 2000): string[] {
  const refuse = () => ApiException.invalidParameter(parameter, 'is not a cursor issued by this API');
  if (cursor.length > maxChars || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encode(text) !== cursor) throw refuse();
  let parts: unknown;
  try {
    parts = JSON.parse(text);
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parts) || parts.length !== shape.length) throw refuse();
  parts.forEach((p, i) => {
    if (typeof p !== 'string' || (shape[i] === 'ts' && (!TS_US.test(p) || Number.isNaN(Date.parse(p))))) throw refuse();
  });
  return parts as string[];
}
