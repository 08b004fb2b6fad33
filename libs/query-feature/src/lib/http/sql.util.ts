/**
 * Renders a timestamptz column as UTC ISO-8601 with microseconds, in SQL: a JS Date keeps milliseconds
 * only, and readings a few µs apart must stay distinct. Takes a column name from our own code, never input.
 */
export const isoUs = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** bigint and numeric arrive as strings from pg; counts here stay far below 2^53. */
export const toCount = (v: string | number | null): number => (v === null ? 0 : Number(v));
