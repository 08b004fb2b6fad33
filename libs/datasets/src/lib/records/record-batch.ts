import { cap, RAW_CAP, type RecordRule, type RowReject } from '@sluice/formats';

/** One record as read from a file, before any conversion. */
export interface SourceRecord {
  /** The file's line the record starts on (1-based). */
  line: number;
  /** CSV: the fields as text, in header order. JSON and NDJSON: the record object as parsed. */
  values: string[] | Record<string, unknown>;
}

/** What one input chunk yielded: the records read and the records that could not be read, each in line order. */
export interface RecordBatch {
  /**
   * CSV: the column names (from the header row or `format.columns`), set on every batch once known (the first
   * such batch comes even without records); JSON/NDJSON: undefined.
   */
  header?: string[];
  records: SourceRecord[];
  /** Records that could not be read at all; a rule that ends the file (`invalid_header`, `malformed_csv`, …) comes last. */
  rejects: RowReject[];
}

/** Bounds on what one file may make the reader hold. */
export interface RecordLimits {
  /** Longest line (CSV: also longest record), NDJSON line or JSON record, in bytes (MAX_LINE_BYTES). */
  maxLineBytes: number;
  /** Most CSV columns (MAX_CSV_COLUMNS). */
  maxColumns: number;
  /** Deepest JSON nesting (MAX_JSON_DEPTH). */
  maxJsonDepth?: number;
  /** Largest JSON document (MAX_JSON_DOCUMENT_BYTES). */
  maxDocumentBytes?: number;
}

export type RecordInput = NodeJS.ReadableStream | AsyncIterable<Buffer>;

/** A refused record: its message starts with the line, as every row error's does. */
export function recordReject(line: number, rule: RecordRule, message: string, raw = '', column: string | null = null): RowReject {
  return { line, column, rule, message: `line ${line}: ${message}`, value: null, raw: cap(raw, RAW_CAP) };
}
