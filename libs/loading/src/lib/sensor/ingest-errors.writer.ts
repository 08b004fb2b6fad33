import type { PoolClient } from 'pg';
import { storable, type RowReject } from '@sluice/formats';

/**
 * Writes a file's row errors in one statement (never one per row). The text quoted from a refused record
 * is made storable (a NUL, say, is why the record was refused).
 */
export async function writeRowErrors(client: PoolClient, fileId: string, errors: readonly RowReject[]): Promise<void> {
  if (!errors.length) return;
  const sorted = [...errors].sort((a, b) => a.line - b.line);
  await client.query(
    `INSERT INTO ingest_errors (file_id, line, "column", rule, message, raw)
     SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[])`,
    [fileId, sorted.map((e) => e.line), sorted.map((e) => e.column && storable(e.column)), sorted.map((e) => e.rule), sorted.map((e) => storable(e.message)), sorted.map((e) => storable(e.raw))],
  );
}
