import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The text-search expression of `log_lines.message`, the one its GIN index is built on: a query must use it
 * word for word to use the index. 'simple' lower-cases words and neither stems nor drops any; only the first
 * 65,536 characters are indexed, which keeps every tsvector below PostgreSQL's 1 MB limit whatever the line.
 */
export const LOG_MESSAGE_TSVECTOR = `to_tsvector('simple', left(message, 65536))`;

/**
 * One line of a plain-text line file (SPEC §4.7). `id` grows in load order: the keyset of `GET /logs`.
 * Partitioned on `ts` (lines without one are in the default partition), so the line's key holds `ts`:
 * unique (file_id, line, ts) NULLS NOT DISTINCT.
 */
@Entity('log_lines')
@Index('log_lines_file_line_ts_uq', ['fileId', 'line', 'ts'], { unique: true })
export class LogLine {
  @PrimaryColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'file_id', type: 'uuid' })
  fileId!: string;

  /** 1-based line number in the file. */
  @Column({ type: 'int' })
  line!: number;

  /** When the line starts with a timestamp. */
  @Column({ type: 'timestamptz', nullable: true })
  ts!: Date | null;

  /** Lower case; null when the line names none. */
  @Column({ type: 'text', nullable: true })
  tag!: string | null;

  @Column({ type: 'text' })
  message!: string;
}
