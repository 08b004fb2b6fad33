import type { DataSource } from 'typeorm';
import { formatCount, renderTable } from '../output';

export interface SourceStatus {
  source: string;
  bucket: string;
  /** Completed listing passes. */
  passes: number;
  /** The last key of the current pass handled so far (null: between passes). */
  position: string | null;
  objectsClaimed: number;
  listedAt: string;
}

/** Object-store sources as the ledger knows them: listing checkpoints and the object versions claimed. */
export async function sourceStatuses(ds: DataSource): Promise<SourceStatus[]> {
  const rows: { source: string; bucket: string; passes: number; position: string | null; objects: number; listed_at: string }[] = await ds.query(
    `SELECT c.source, c.bucket, c.generation AS passes, c.start_after AS position,
            (SELECT count(*)::int FROM s3_objects o WHERE o.source = c.source) AS objects,
            to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS listed_at
       FROM s3_source_checkpoints c ORDER BY c.source`,
  );
  return rows.map((r) => ({ source: r.source, bucket: r.bucket, passes: r.passes, position: r.position, objectsClaimed: r.objects, listedAt: r.listed_at }));
}

export function renderSourceStatuses(sources: readonly SourceStatus[]): string[] {
  if (sources.length === 0) return [];
  return [
    '',
    'Object-store sources',
    renderTable(
      ['source', 'bucket', 'objects claimed', 'passes', 'position', 'last listed (UTC)'],
      sources.map((s) => [s.source, s.bucket, formatCount(s.objectsClaimed), formatCount(s.passes), s.position ?? '(between passes)', s.listedAt]),
    ),
  ];
}
