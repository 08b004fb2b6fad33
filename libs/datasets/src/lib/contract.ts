/**
 * A data contract: how Sluice loads a shape of data it has no built-in kind for, written by a person as one YAML
 * file in CONTRACTS_DIR (docs/contracts.md). This is the model a contract file is read into, after validation;
 * every name in it is a validated identifier, every pattern a safe regular expression.
 */

/** Column types a contract may name, and nothing else reaches PostgreSQL as a type. */
export const COLUMN_TYPES = ['text', 'int', 'bigint', 'float', 'numeric', 'bool', 'timestamptz', 'date', 'jsonb'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** What a row whose key is already loaded does: a row error, nothing, or replaces it when newer by `newest_by`. */
export const KEY_POLICIES = ['reject', 'skip', 'newest_wins'] as const;
export type KeyPolicy = (typeof KEY_POLICIES)[number];

/**
 * A file whose columns differ from the contract's: quarantined with the diff as its reason; or extra columns
 * dropped and missing optional ones null; or extra columns added to the table as nullable (in the load's transaction).
 */
export const DRIFT_POLICIES = ['quarantine', 'ignore_extra', 'add_columns'] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];

/** A local time the clock change makes twice: refused (`tz_ambiguous`), or the earlier or later of the two. */
export const AMBIGUOUS_POLICIES = ['reject', 'earlier', 'later'] as const;
export type AmbiguousPolicy = (typeof AMBIGUOUS_POLICIES)[number];

export const ENCODINGS = ['utf-8', 'latin1'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export interface CsvFormat {
  type: 'csv';
  /** One character. */
  delimiter: string;
  /** One character. */
  quote: string;
  /** The first line (after `skipLines`) names the columns; otherwise `columns` does. */
  header: boolean;
  /** Names of the columns in order when there is no header row. */
  columns?: string[];
  /** `3,5` is 3.5 (a `.` then groups thousands and is dropped). */
  decimalComma: boolean;
  encoding: Encoding;
  /** Lines before the header (or the first record) that are not data: a title, a unit line. */
  skipLines: number;
}

export interface NdjsonFormat {
  type: 'ndjson';
  /**
   * Set for a body taken by the `kind` its lines name (`inputs.kind`), never by a contract file: every line
   * must name this kind (another ends the body as `mixed_kinds`), and the `kind` field is no column unless the
   * contract names it.
   */
  lineKind?: string;
}

export interface JsonFormat {
  type: 'json';
  /** Dotted path of the array of records in the document (`data.readings`); empty when the document is the array. */
  recordsPath: string;
}

export type ContractFormat = CsvFormat | NdjsonFormat | JsonFormat;

export interface ContractColumn {
  /** CSV: the header name (or a name of `format.columns`). JSON and NDJSON: the dotted path in a record (`meta.id`). */
  source: string;
  /** The table's column: a validated identifier. */
  name: string;
  type: ColumnType;
  /** A missing or empty value is a row error `required`; otherwise it is null. */
  required: boolean;
  /** Bounds of a number (int, bigint, float, numeric), inclusive. */
  min?: number;
  max?: number;
  /** The values allowed (compared as text, after trimming). */
  enum?: string[];
  /** Most characters of a text value. */
  maxLength?: number;
  /** A safe regular expression the whole text value must match. */
  pattern?: string;
  /**
   * timestamptz and date: the formats tried in order, Luxon tokens (`dd.MM.yyyy HH:mm`) or `iso`, `epoch_s`,
   * `epoch_ms`. Default `iso`.
   */
  formats?: string[];
  /** IANA zone of this column's naive local times; the contract's `timezone` when unset. */
  timezone?: string;
  /** A local time that exists twice in the zone (autumn clock change). */
  ambiguous: AmbiguousPolicy;
}

export interface ContractInputs {
  /** File names it takes, a glob (`weather_*.csv`), matched against the name only. */
  glob?: string;
  /** A subfolder of the drop folder's `incoming/` whose files it takes. */
  folder?: string;
  /** An object-store source (by its S3_SOURCES name) and key prefix. */
  s3?: { source: string; prefix: string };
  /** The `kind` of `POST /ingest` bodies and NDJSON lines it takes. */
  kind?: string;
}

export interface ContractTable {
  /** Table name in the contracts schema (CONTRACTS_SCHEMA, default `datasets`): a validated identifier. */
  name: string;
  /** Columns of the primary key (target names). */
  key: string[];
  onDuplicateKey: KeyPolicy;
  /** With `newest_wins`: the column whose greater value wins. */
  newestBy?: string;
  /** The column `GET /datasets/{name}/rows` filters `from`/`to` on, and a table may be partitioned by. */
  timeColumn?: string;
}

export interface Contract {
  /** The contract's name (the file's name without `.yaml`): a validated identifier. */
  name: string;
  inputs: ContractInputs;
  format: ContractFormat;
  /** IANA zone of naive local times in every timestamptz column that names none of its own. */
  timezone?: string;
  columns: ContractColumn[];
  table: ContractTable;
  drift: DriftPolicy;
}

/** One version of a contract as read from its file. */
export interface ContractVersion {
  contract: Contract;
  /** sha256 (hex) of the file's bytes: the version. */
  hash: string;
  /** The file's text, recorded with the version. */
  text: string;
  /** Path of the file it was read from. */
  file: string;
}

/** Why a contract file was refused: the file, the line (1-based, when known) and the field (a dotted path). */
export interface ContractProblem {
  file: string;
  line?: number;
  field?: string;
  message: string;
}
