export const FILE_STATUSES = ['queued', 'processing', 'processed', 'duplicate', 'quarantined', 'failed'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export const TERMINAL_STATUSES: readonly FileStatus[] = ['processed', 'duplicate', 'quarantined', 'failed'];
export function isTerminal(status: FileStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const FILE_SOURCES = ['dropzone', 'api', 's3'] as const;
export type FileSource = (typeof FILE_SOURCES)[number];

/** Data kinds a file can hold (SPEC §4). */
export const FILE_KINDS = [
  'sensor_wide_csv',
  'sensor_long_csv',
  'sensor_mapping_csv',
  'vehicle_status',
  'detections',
  'measurement',
  'ndjson',
  'log',
  /** A zip archive: its members are files of their own (ledger rows whose archive_id names it). */
  'zip_archive',
  /** A file loaded through a data contract: `contract_name`/`contract_hash` of its ledger row say which, and which version. */
  'contract',
] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/** Why a file or a row was refused: a rule code a program can match and a sentence a person can act on. */
export interface RejectReason {
  rule: string;
  message: string;
  line?: number;
  column?: string;
  value?: string;
}
