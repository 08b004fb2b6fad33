import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Min, ValidateNested } from 'class-validator';
import { FILE_KINDS, FILE_STATUSES, type FileKind, type FileStatus } from './file-status';

/** Payload of `files.queued.v1`: the work item. Carries the ledger id only, never file contents. */
export class FileQueuedMessage {
  @IsUUID()
  fileId!: string;
}

export class RejectReasonDto {
  @IsString()
  rule!: string;

  @IsString()
  message!: string;

  @IsOptional()
  @IsInt()
  line?: number;

  @IsOptional()
  @IsString()
  column?: string;

  @IsOptional()
  @IsString()
  value?: string;
}

/** Payload of every lifecycle subject (processing and the terminal outcomes). */
export class FileLifecycleEvent {
  @IsUUID()
  fileId!: string;

  @IsIn(FILE_STATUSES)
  status!: FileStatus;

  @IsString()
  originalName!: string;

  @IsOptional()
  @IsIn(FILE_KINDS)
  kind?: FileKind;

  @IsOptional()
  @IsInt()
  @Min(0)
  rowsLoaded?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  rowsRejected?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  durationMs?: number;

  @IsOptional()
  @IsUUID()
  duplicateOf?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => RejectReasonDto)
  error?: RejectReasonDto;

  @IsISO8601()
  at!: string;
}

/** Most payloads one batch message names (well under NATS' 1 MB max_payload with their events). */
export const MAX_BATCH_FILES = 2000;
/** Most bytes of bodies one batch message names (one always names at least one payload), so a processor's load of it stays small. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** Payload of `batches.queued.v1`: ledger ids of payloads stored in the database, to load together. */
export class FileBatchQueuedMessage {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_FILES)
  @IsUUID('all', { each: true })
  fileIds!: string[];

  /** Total size of their bodies: a processor merges messages within its memory budget by it. */
  @IsOptional()
  @IsInt()
  @Min(0)
  bytes?: number;
}

/** Payload of `batches.finished.v1`: one lifecycle event per payload a batch load finished. */
export class FileBatchFinishedMessage {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_FILES)
  @ValidateNested({ each: true })
  @Type(() => FileLifecycleEvent)
  events!: FileLifecycleEvent[];
}
