import { Injectable } from '@nestjs/common';
import { TERMINAL_STATUSES } from '@sluice/contracts';
import { DataSource } from 'typeorm';
import { rowsOf, withTransaction } from '@sluice/db';
import { LedgerRepository, type NewLedgerEntry } from './ledger.repository';

/** Where a listing pass stands (the storage lib's ListingPosition). */
interface ListingPosition {
  startAfter: string | null;
  generation: number;
}

/** A source as this repository needs it: its name and the bucket it reads. */
export interface SourceRef {
  name: string;
  bucket: string;
}

/** One listed object version. */
export interface ObjectVersion {
  key: string;
  etag: string;
}

export type ObjectClaim = { status: 'queued' | 'duplicate' | 'existing'; fileId: string } | { status: 'claimed_before' };

/** `s3_objects` (one row per claimed object version) and `s3_source_checkpoints`, for the watcher and `sluice backfill s3://…`. */
@Injectable()
export class S3ObjectsRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly ledger: LedgerRepository,
  ) {}

  /** Where the source's listing stands; a source now pointing at another bucket starts over. */
  async position(source: SourceRef): Promise<ListingPosition> {
    const rows = rowsOf<{ bucket: string; startAfter: string | null; generation: number }>(
      await this.ds.query(`SELECT bucket, start_after AS "startAfter", generation FROM s3_source_checkpoints WHERE source = $1`, [source.name]),
    );
    const row = rows[0];
    if (!row || row.bucket !== source.bucket) return { startAfter: null, generation: row?.generation ?? 0 };
    return { startAfter: row.startAfter, generation: row.generation };
  }

  async savePosition(source: SourceRef, at: ListingPosition, listed: number): Promise<void> {
    await this.ds.query(
      `INSERT INTO s3_source_checkpoints (source, bucket, start_after, generation, objects_listed)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (source) DO UPDATE SET bucket = $2, start_after = $3,
         objects_listed = CASE WHEN s3_source_checkpoints.generation = $4 THEN s3_source_checkpoints.objects_listed + $5 ELSE 0 END,
         pass_started_at = CASE WHEN s3_source_checkpoints.generation = $4 THEN s3_source_checkpoints.pass_started_at ELSE now() END,
         generation = $4, updated_at = now()`,
      [source.name, source.bucket, at.startAfter, at.generation, listed],
    );
  }

  /** The listed versions not claimed yet (one indexed lookup per page), in the given order. */
  async unclaimed<T extends ObjectVersion>(source: SourceRef, objects: readonly T[]): Promise<T[]> {
    if (objects.length === 0) return [];
    const claimed = new Set(
      rowsOf<{ key: string; etag: string }>(
        await this.ds.query(
          `SELECT o.key, o.etag FROM s3_objects o JOIN unnest($3::text[], $4::text[]) AS l(key, etag) ON o.key = l.key AND o.etag = l.etag
           WHERE o.source = $1 AND o.bucket = $2`,
          [source.name, source.bucket, objects.map((o) => o.key), objects.map((o) => o.etag)],
        ),
      ).map((r) => `${r.key}\0${r.etag}`),
    );
    return objects.filter((o) => !claimed.has(`${o.key}\0${o.etag}`));
  }

  /**
   * Claims one object version and registers it in the ledger, in one transaction: the same version is claimed
   * once however many watchers list it; the same bytes already live under another key make it a `duplicate`.
   */
  async claim(source: SourceRef, object: ObjectVersion, entry: NewLedgerEntry): Promise<ObjectClaim> {
    return withTransaction(this.ds, async (client) => {
      const won = await client.query(
        `INSERT INTO s3_objects (source, bucket, key, etag, file_id, size_bytes) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING RETURNING file_id`,
        [source.name, source.bucket, object.key, object.etag, entry.id, entry.sizeBytes],
      );
      // Claimed before: the INSERT wrote nothing, so the commit ends the transaction as a rollback would.
      if (won.rowCount === 0) return { status: 'claimed_before' };
      const [result] = await this.ledger.registerMany(client, [entry]);
      return { status: result.status, fileId: entry.id };
    });
  }

  /** Ledger ids of the source's objects whose outcome is terminal but whose after-load action is not done. */
  async unsettled(source: SourceRef, limit = 500): Promise<string[]> {
    return rowsOf<{ id: string }>(
      await this.ds.query(
        `SELECT f.id FROM s3_objects o JOIN ingest_files f ON f.id = o.file_id
         WHERE o.settled_at IS NULL AND o.source = $1 AND f.status = ANY($2::text[]) ORDER BY o.claimed_at LIMIT $3`,
        [source.name, [...TERMINAL_STATUSES], limit],
      ),
    ).map((r) => r.id);
  }

  async isSettled(fileId: string): Promise<boolean> {
    const rows = rowsOf<{ settled: boolean }>(await this.ds.query(`SELECT settled_at IS NOT NULL AS settled FROM s3_objects WHERE file_id = $1`, [fileId]));
    return rows[0]?.settled ?? true;
  }

  async markSettled(fileId: string, settledAs: string): Promise<void> {
    await this.ds.query(`UPDATE s3_objects SET settled_at = now(), settled_as = $2 WHERE file_id = $1`, [fileId, settledAs]);
  }
}
