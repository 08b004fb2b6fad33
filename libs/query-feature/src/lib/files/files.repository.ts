import { Injectable } from '@nestjs/common';
import { readingsOf } from '@sluice/contracts';
import { DataSource } from 'typeorm';
import { isoUs, toCount } from '../http/sql.util';
import { type FileDetailDto, type FileDto, REJECTED_ROWS_SHOWN, type RejectedRowDto } from './files.dto';

type Counted = 'size_bytes' | 'rows_total' | 'rows_loaded' | 'rows_rejected' | 'rows_written';
type FileRow = Omit<FileDto, Counted | 'readings_loaded'> & Record<Counted, string>;

const FILE_COLUMNS = `f.id::text AS id, f.source, f.original_name, f.stored_path, f.sha256, f.size_bytes::text AS size_bytes, f.kind, f.status,
  f.duplicate_of::text AS duplicate_of, f.compression, f.archive_id::text AS archive_id, f.rows_total::text AS rows_total, f.rows_loaded::text AS rows_loaded,
  f.rows_rejected::text AS rows_rejected, f.rows_written::text AS rows_written, f.rows_written_by_table, f.error, f.tag_counts, f.attempts,
  ${isoUs('f.created_at')} AS created_at, ${isoUs('f.updated_at')} AS updated_at,
  ${isoUs('f.started_at')} AS started_at, ${isoUs('f.finished_at')} AS finished_at`;

const toFile = (r: FileRow): FileDto => ({
  ...r,
  size_bytes: toCount(r.size_bytes),
  rows_total: toCount(r.rows_total),
  rows_loaded: toCount(r.rows_loaded),
  rows_rejected: toCount(r.rows_rejected),
  readings_loaded: readingsOf(r.rows_written_by_table),
  rows_written: toCount(r.rows_written),
});

export interface FilesFilter {
  status?: string;
  kind?: string;
  /** Only the members of this zip archive. */
  archiveId?: string;
  /** Keyset position: rows strictly older than (createdAt, id). */
  before?: { createdAt: string; id: string };
  limit: number;
}

/** Read-side SQL over the ledger (ingest_files) and its rejected rows (ingest_errors). */
@Injectable()
export class FilesRepository {
  constructor(private readonly db: DataSource) {}

  /** Newest first over the (created_at DESC, id DESC) index. */
  async list(filter: FilesFilter): Promise<FileDto[]> {
    const rows: FileRow[] = await this.db.query(
      `SELECT ${FILE_COLUMNS}
         FROM ingest_files f
        WHERE ($1::text IS NULL OR f.status = $1)
          AND ($2::text IS NULL OR f.kind = $2)
          AND ($3::timestamptz IS NULL OR (f.created_at, f.id) < ($3::timestamptz, $4::uuid))
          AND ($6::uuid IS NULL OR f.archive_id = $6::uuid)
        ORDER BY f.created_at DESC, f.id DESC
        LIMIT $5`,
      [filter.status ?? null, filter.kind ?? null, filter.before?.createdAt ?? null, filter.before?.id ?? null, filter.limit, filter.archiveId ?? null],
    );
    return rows.map(toFile);
  }

  /** The ledger row and its first rejected rows (one more than shown, to tell whether there are more). */
  async get(id: string): Promise<FileDetailDto | undefined> {
    const rows: (FileRow & { rejected_rows: RejectedRowDto[] })[] = await this.db.query(
      `SELECT ${FILE_COLUMNS},
              COALESCE((SELECT json_agg(e ORDER BY e.line NULLS LAST, e.id)
                          FROM (SELECT ie.id, ie.line, ie."column", ie.rule, ie.message, ie.raw
                                  FROM ingest_errors ie
                                 WHERE ie.file_id = f.id
                                 ORDER BY ie.line NULLS LAST, ie.id
                                 LIMIT $2) e), '[]'::json) AS rejected_rows
         FROM ingest_files f
        WHERE f.id = $1::uuid`,
      [id, REJECTED_ROWS_SHOWN + 1],
    );
    if (rows.length === 0) return undefined;
    const { rejected_rows, ...file } = rows[0];
    const shown = rejected_rows.slice(0, REJECTED_ROWS_SHOWN).map(({ line, column, rule, message, raw }) => ({ line, column, rule, message, raw }));
    return { ...toFile(file), rejected_rows: shown, rejected_rows_truncated: rejected_rows.length > REJECTED_ROWS_SHOWN };
  }
}
