import { Injectable, Logger } from '@nestjs/common';
import { LOG_MESSAGE_TSVECTOR } from '@sluice/db';
import type { Pool } from 'pg';
import type { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { openExportCursor } from '../http/export-stream';
import { isoUs, toCount } from '../http/sql.util';
import { type LogLineDto, type LogOrder, type LogTagsDto, PAGE_MESSAGE_CHARS } from './logs.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Lines an export reads a round trip and buffers ahead of the socket: a line may be up to MAX_LINE_BYTES, so fewer than for readings. */
export const EXPORT_BATCH_LINES = 100;

export interface LogsFilter {
  tag?: string;
  /** Ledger ids the lines must come from (resolved from `file`). */
  fileIds?: string[];
  from?: string;
  to?: string;
  q?: string;
  order: LogOrder;
  /** Keyset position: lines after this id in `order`. */
  afterId?: string;
  limit: number;
}

/** The WHERE clause every read of log_lines shares; `$1`…`$6` as `filterValues` gives them. */
const where = (order: LogOrder) => `
   WHERE ($1::text IS NULL OR l.tag = $1)
     AND ($2::uuid[] IS NULL OR l.file_id = ANY($2::uuid[]))
     AND ($3::timestamptz IS NULL OR l.ts >= $3::timestamptz)
     AND ($4::timestamptz IS NULL OR l.ts <  $4::timestamptz)
     AND ($5::text IS NULL OR ${LOG_MESSAGE_TSVECTOR.replace('message', 'l.message')} @@ websearch_to_tsquery('simple', $5))
     AND ($6::bigint IS NULL OR l.id ${order === 'asc' ? '>' : '<'} $6::bigint)`;

/** Pages: load order (the line id), which keyset paging follows. */
const loadOrder = (order: LogOrder) => `ORDER BY l.id ${order === 'asc' ? 'ASC' : 'DESC'}`;

/**
 * Exports: file order, the files in the order they arrived (ledger `created_at`, then id) and each file's
 * lines by line number, whatever order a replay rewrote some of them in; `desc` is the exact reverse. The
 * lines of one file come in that order straight from the (file_id, line) index, with no sort.
 */
const fileOrder = (order: LogOrder, oneFile: boolean) => {
  const dir = order === 'asc' ? 'ASC NULLS LAST' : 'DESC NULLS FIRST';
  return `ORDER BY ${oneFile ? '' : `f.created_at ${dir}, `}l.file_id ${dir}, l.line ${dir}`;
};

const filterValues = (f: Omit<LogsFilter, 'limit'>) => [f.tag ?? null, f.fileIds ?? null, f.from ?? null, f.to ?? null, f.q ?? null, f.afterId ?? null];

/** Read-side SQL over log_lines (SPEC §4.7) and the tag counts of the ledger. */
@Injectable()
export class LogsRepository {
  private readonly logger = new Logger(LogsRepository.name);

  constructor(private readonly db: DataSource) {}

  /** The ledger ids a `file` parameter names: its id, or every plain-text file of that name. */
  async resolveFile(file: string): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id::text AS id FROM ingest_files WHERE kind = 'log' AND (original_name = $1 OR ($2::uuid IS NOT NULL AND id = $2::uuid))`,
      [file, UUID.test(file) ? file : null],
    );
    return rows.map((r) => r.id);
  }

  /** One page, with each line's id (the cursor of the next page). */
  async page(filter: LogsFilter): Promise<(LogLineDto & { id: string })[]> {
    const rows: (LogLineDto & { id: string })[] = await this.db.query(
      `SELECT l.id::text AS id, l.file_id::text AS file_id, COALESCE(f.original_name, '') AS file_name, l.line, ${isoUs('l.ts')} AS ts, l.tag,
              left(l.message, ${PAGE_MESSAGE_CHARS}) AS message, length(l.message) > ${PAGE_MESSAGE_CHARS} AS message_truncated
         FROM log_lines l LEFT JOIN ingest_files f ON f.id = l.file_id
         ${where(filter.order)}
         ${loadOrder(filter.order)}
        LIMIT $7`,
      [...filterValues(filter), filter.limit],
    );
    return rows;
  }

  /**
   * Every matching line as `[file_id, file_name, line, ts, tag, message]` arrays, in file order (see
   * fileOrder), through a cursor (see openExportCursor).
   */
  export(filter: Omit<LogsFilter, 'limit' | 'afterId'>): Promise<Readable> {
    const pool = (this.db.driver as PostgresDriver).master as Pool;
    return openExportCursor(
      pool,
      `SELECT l.file_id::text, COALESCE(f.original_name, ''), l.line, ${isoUs('l.ts')}, l.tag, l.message
         FROM log_lines l LEFT JOIN ingest_files f ON f.id = l.file_id
         ${where(filter.order)}
         ${fileOrder(filter.order, filter.fileIds?.length === 1)}`,
      filterValues(filter),
      this.logger,
      'log lines',
      EXPORT_BATCH_LINES,
    );
  }

  /** Lines per tag summed over the ledger rows of loaded plain-text files. */
  async tags(): Promise<LogTagsDto> {
    const [totals]: { files: string; lines: string }[] = await this.db.query(
      `SELECT count(*)::text AS files, COALESCE(sum(rows_loaded), 0)::text AS lines FROM ingest_files WHERE kind = 'log' AND tag_counts IS NOT NULL`,
    );
    const tags: { tag: string; lines: string }[] = await this.db.query(
      `SELECT t.key AS tag, sum(t.value::bigint)::text AS lines
         FROM ingest_files f, jsonb_each_text(f.tag_counts) t
        WHERE f.kind = 'log' AND f.tag_counts IS NOT NULL
        GROUP BY t.key
        ORDER BY sum(t.value::bigint) DESC, t.key
        LIMIT 100`,
    );
    return { tags: tags.map((t) => ({ tag: t.tag, lines: toCount(t.lines) })), files: toCount(totals.files), lines: toCount(totals.lines) };
  }
}
