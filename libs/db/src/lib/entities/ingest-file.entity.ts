import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { FileKind, FileSource, FileStatus, RejectReason, RowsByTable } from '@sluice/contracts';

/** The ledger: one row per file or payload received. The source of truth for where a file stands. */
@Entity('ingest_files')
@Index('ingest_files_status_updated_idx', ['status', 'updatedAt'])
export class IngestFile {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  source!: FileSource;

  /** Name as received, relative to incoming/ (or the upload's file name). Display only, never a path. */
  @Column({ name: 'original_name', type: 'text' })
  originalName!: string;

  /** Where the bytes are now, relative to the drop folder root. */
  @Column({ name: 'stored_path', type: 'text' })
  storedPath!: string;

  @Column({ type: 'char', length: 64 })
  sha256!: string;

  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  kind!: FileKind | null;

  @Column({ type: 'varchar', length: 16 })
  status!: FileStatus;

  @Column({ name: 'duplicate_of', type: 'uuid', nullable: true })
  duplicateOf!: string | null;

  /** Records (CSV lines, JSON items) read, loaded and rejected: total = loaded + rejected. */
  @Column({ name: 'rows_total', type: 'bigint', default: 0 })
  rowsTotal!: string;

  @Column({ name: 'rows_loaded', type: 'bigint', default: 0 })
  rowsLoaded!: string;

  @Column({ name: 'rows_rejected', type: 'bigint', default: 0 })
  rowsRejected!: string;

  /**
   * Rows written to the data tables, all tables together (a wide CSV line yields one reading per metric): new
   * keys, plus keys whose data the file changed. A replay adds what it writes.
   */
  @Column({ name: 'rows_written', type: 'bigint', default: 0 })
  rowsWritten!: string;

  /** rows_written per table (`{"raw_sensor_data": 7}`; tables written none left out): readings are the raw_sensor_data rows. */
  @Column({ name: 'rows_written_by_table', type: 'jsonb', default: () => "'{}'::jsonb" })
  rowsWrittenByTable!: RowsByTable;

  /** How the stored bytes are packed (gzip, zip), null for plain; sha256 and size_bytes are of the content (a zip: its own bytes). */
  @Column({ type: 'varchar', length: 8, nullable: true })
  compression!: 'gzip' | 'zip' | null;

  /** A member of a zip archive: the archive's row, and the member's index in its central directory. */
  @Column({ name: 'archive_id', type: 'uuid', nullable: true })
  archiveId!: string | null;

  @Column({ name: 'member_index', type: 'int', nullable: true })
  memberIndex!: number | null;

  @Column({ type: 'jsonb', nullable: true })
  error!: RejectReason | null;

  /** Lines per tag of a loaded plain-text line file (`{"info": 2, "error": 1}`); null for other kinds. */
  @Column({ name: 'tag_counts', type: 'jsonb', nullable: true })
  tagCounts!: Record<string, number> | null;

  /** The data contract (name and sha256 of its file, a row of contract_versions) the file was loaded with; both null for a built-in kind. */
  @Column({ name: 'contract_name', type: 'text', nullable: true })
  contractName!: string | null;

  @Column({ name: 'contract_hash', type: 'text', nullable: true })
  contractHash!: string | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Times the file was re-run after a terminal state (attempts restart at 0 on each replay). */
  @Column({ type: 'int', default: 0 })
  replays!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** When the row last entered the queue: its arrival, or its latest replay (waiting times count from here). */
  @Column({ name: 'queued_at', type: 'timestamptz', default: () => 'now()' })
  queuedAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  /**
   * When the file's bytes were removed by retention (its copy in processed/ or quarantine/, or its stored body);
   * null while they are kept. The row stays: its sha256 still finds a re-drop as a duplicate.
   */
  @Column({ name: 'expired_at', type: 'timestamptz', nullable: true })
  expiredAt!: Date | null;
}
