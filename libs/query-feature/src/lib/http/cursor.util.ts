import { ApiException } from '@sluice/http';

/** A timestamp as the API renders it: UTC, microseconds, e.g. 2024-01-01T00:00:00.123456Z. */
export const TS_US = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

function decode(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Node decodes leniently; only a cursor we could have written is accepted.
  return encode(text) === cursor ? text : undefined;
}

const validTs = (ts: string) => TS_US.test(ts) && !Number.isNaN(Date.parse(ts));

/** Readings cursor: the last timestamp of a page. */
export function encodeTsCursor(ts: string): string {
  return encode(ts);
}

/** Throws 400 naming `parameter` when the cursor is not one this API issued. */
export function decodeTsCursor(cursor: string, parameter = 'cursor'): string {
  const ts = decode(cursor);
  if (ts === undefined || !validTs(ts)) throw ApiException.invalidParameter(parameter, 'is not a cursor issued by this API');
  return ts;
}

/** Ledger cursor: (created_at, id) of the last row of a page. */
export function encodeLedgerCursor(createdAt: string, id: string): string {
  return encode(`${createdAt}|${id}`);
}

export function decodeLedgerCursor(cursor: string, parameter = 'cursor'): { createdAt: string; id: string } {
  const [createdAt, id, ...rest] = (decode(cursor) ?? '').split('|');
  if (rest.length > 0 || !createdAt || !id || !validTs(createdAt) || !UUID.test(id)) {
    throw ApiException.invalidParameter(parameter, 'is not a cursor issued by this API');
  }
  return { createdAt, id };
}
