// Every app's config class in one file: they extend one another (common → drop zone → app), so a variable two apps
// read is declared, validated and documented once (the load policies, shared by two branches, in load-policy-config.ts).
import { dirname, join } from 'node:path';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsIP, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { parseList } from './parsers';
import { WithLoadPolicy } from './load-policy-config';
import { RetentionConfig } from './retention-config';
import { IsUrlList } from './validators';
import { parseS3Sources, type S3Source } from './s3-sources';
import { IsS3Sources } from './s3-sources.validator';

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };
/** `true/1/yes` and `false/0/no`; anything else stays a string and fails @IsBoolean, naming the variable. */
const toBool = ({ value }: { value: unknown }) => (typeof value === 'string' ? (BOOLEAN_WORDS[value.toLowerCase()] ?? value) : value);

export interface HttpServerLimits {
  headersTimeoutMs: number;
  /** 0: none. */
  requestTimeoutMs: number;
  /** 0: none. */
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0: unbounded. */
  maxConnections: number;
}

/**
 * A schema a contract's table may be made in: a plain lower-case identifier, and none of PostgreSQL's own or
 * `public` (where Sluice's tables are), so no contract table can take the name of one of them.
 */
export const DATASET_SCHEMA_NAME = /^(?!public$|information_schema$|pg_)[a-z_][a-z0-9_]{0,62}$/;

/**
 * The folder of data contracts: CONTRACTS_DIR, else `contracts` beside the drop folder (in the folder that holds
 * DROPZONE_DIR) for a config that has one, else `./contracts`.
 */
export function contractsDir(config: CommonConfig & { DROPZONE_DIR?: string }): string {
  if (config.CONTRACTS_DIR) return config.CONTRACTS_DIR;
  return config.DROPZONE_DIR ? join(dirname(config.DROPZONE_DIR), 'contracts') : './contracts';
}

/** Variables every service reads. Names are the environment variable names (see README). */
export class CommonConfig extends RetentionConfig {
  @IsUrlList(['postgres', 'postgresql'])
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sluice';

  @IsUrlList(['nats', 'tls', 'ws', 'wss'])
  NATS_URL = 'nats://127.0.0.1:4222';

  /** Prefix of every subject and of the stream name, so two stacks can share one NATS server. */
  @Matches(/^[a-z][a-z0-9_-]{0,31}$/, { message: 'must be lower-case letters, digits, - or _' })
  NATS_NAMESPACE = 'sluice';

  /** Copies JetStream keeps of the stream (1, or 3/5 on a NATS cluster); set when the stream is created. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(5)
  NATS_STREAM_REPLICAS = 1;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Address the HTTP port listens on: loopback unless set (containers set 0.0.0.0). */
  @IsIP(undefined, { message: 'must be an IP address such as 127.0.0.1, 0.0.0.0 or ::' })
  BIND_ADDRESS = '127.0.0.1';

  /** Keys `GET /metrics` requires (x-api-key or Authorization: Bearer); unset, metrics are open. */
  @IsOptional()
  @IsString()
  METRICS_API_KEYS?: string;

  /**
   * Compressed input (gzip files, zip members; read by the watcher, the ingest-api and the processor): the
   * most bytes one of them may decompress to (default 20 GiB), and the most its content may outgrow its
   * compressed bytes (checked once 1 MiB has come out). Past either, the file is quarantined
   * `decompression_limit` the moment the limit is crossed: a decompression bomb is never read further.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_DECOMPRESSED_BYTES = 20 * 1024 ** 3;

  @Type(() => Number)
  @IsNumber()
  @Min(1)
  MAX_COMPRESSION_RATIO = 200;

  /**
   * HTTP server bounds (every service's port). A client has HTTP_HEADERS_TIMEOUT_MS to send its request
   * line and headers (408 after; the slowloris defence). HTTP_REQUEST_TIMEOUT_MS caps the whole request,
   * body included; 0 (default) leaves it uncapped, since an upload of MAX_UPLOAD_BYTES over a slow link may
   * take hours: a stalled body is cut by HTTP_IDLE_TIMEOUT_MS instead (no byte either way for that long;
   * keep it above the 15 s heartbeat of `/events`). HTTP_MAX_CONNECTIONS bounds the open connections
   * (beyond it new ones are closed at once); 0 leaves it unbounded.
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  HTTP_HEADERS_TIMEOUT_MS = 10_000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  HTTP_REQUEST_TIMEOUT_MS = 0;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  HTTP_IDLE_TIMEOUT_MS = 60_000;

  /** How long an idle keep-alive connection is kept between requests (above a load balancer's idle timeout when one is in front). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  HTTP_MAX_CONNECTIONS = 4096;

  /** The folder of data contracts (one YAML file each); unset: `contracts/` beside the drop folder (see `contractsDir`). */
  @IsOptional()
  @IsString()
  CONTRACTS_DIR?: string;

  /** The PostgreSQL schema the tables of contracts are made in, kept apart from Sluice's own tables. */
  @Matches(DATASET_SCHEMA_NAME, { message: 'must be a lower-case identifier (letters, digits, _; at most 63) other than public, information_schema or pg_…' })
  CONTRACTS_SCHEMA = 'datasets';

  get httpServerLimits(): HttpServerLimits {
    return {
      headersTimeoutMs: this.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: this.HTTP_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: this.HTTP_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: this.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: this.HTTP_MAX_CONNECTIONS,
    };
  }

  get decompressionLimits(): { maxBytes: number; maxRatio: number } {
    return { maxBytes: this.MAX_DECOMPRESSED_BYTES, maxRatio: this.MAX_COMPRESSION_RATIO };
  }

  get natsServers(): string[] {
    return parseList(this.NATS_URL);
  }
  get metricsKeys(): string[] {
    return parseList(this.METRICS_API_KEYS);
  }
}

export class DropzoneConfig extends CommonConfig {
  @IsString()
  DROPZONE_DIR = './dropzone';

  /** Object-store sources (SPEC §4.6): a JSON array, see README "Object-store sources (S3)". */
  @IsS3Sources()
  S3_SOURCES = '';

  /** The seed's variables: all three define one more source (bucket MINIO_BUCKET, default `sensors`). */
  @IsOptional()
  @IsString()
  MINIO_ENDPOINT?: string;

  @IsOptional()
  @IsString()
  MINIO_ACCESS_KEY?: string;

  @IsOptional()
  @IsString()
  MINIO_SECRET_KEY?: string;

  @IsOptional()
  @IsString()
  MINIO_BUCKET?: string;

  /** How often the watcher lists each object-store source. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  S3_LIST_INTERVAL_MS = 30000;

  /** Keys one listing request asks for (S3 sends at most 1000). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  S3_LIST_PAGE_SIZE = 1000;

  get s3Sources(): S3Source[] {
    return parseS3Sources(this.S3_SOURCES, this);
  }
}

export class WatcherConfig extends DropzoneConfig {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  WATCHER_PORT = 3003;

  /** A file written in place is claimed once its size and mtime have not changed for this long. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  STABILITY_WINDOW_MS = 1000;

  /** Full rescan of incoming/ and processing/ that catches any missed file-system event. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  RESCAN_INTERVAL_MS = 30000;

  /** A ledger row still queued/processing this long after its last update is published again. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  REQUEUE_AFTER_MS = 120000;
}

export class ProcessorConfig extends WithLoadPolicy(DropzoneConfig) {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  PROCESSOR_PORT = 3004;

  /** Files one processor replica works on at the same time. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  PROCESSOR_CONCURRENCY = 2;

  /** JetStream redelivers a message not acked (nor marked in progress) within this time. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  ACK_WAIT_MS = 30000;

  /**
   * When JetStream has delivered nothing to an idle processor for this long (a NATS outage, or a restart whose
   * consumer leaders are still being elected), it takes queued files straight from the ledger until deliveries
   * come back. 0: only ever from JetStream.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  LEDGER_FALLBACK_AFTER_MS = 3000;

  /** Attempts at one file before it is marked failed. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  MAX_ATTEMPTS = 5;

  /** Largest file accepted, in bytes (default 4 GiB). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_FILE_BYTES = 4 * 1024 ** 3;

}

class ApiKeysConfig extends CommonConfig {
  @IsOptional()
  @IsString()
  INGEST_API_KEYS?: string;

  @IsOptional()
  @IsString()
  QUERY_API_KEYS?: string;

  /** Serve without API keys. Only for local experiments. */
  @Transform(toBool)
  @IsBoolean()
  ALLOW_ANONYMOUS = false;

  get ingestKeys(): string[] {
    return parseList(this.INGEST_API_KEYS);
  }
  get queryKeys(): string[] {
    return parseList(this.QUERY_API_KEYS);
  }
}

export class QueryApiConfig extends ApiKeysConfig {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  QUERY_API_PORT = 3002;

  /** Optional: the drop folder, so /stats counts the files in each of its folders (else by ledger stored_path). */
  @IsOptional()
  @IsString()
  DROPZONE_DIR?: string;

  /**
   * CSV exports write a text cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR,
   * LF first) as `"'…"`. Numeric columns are never touched. false: cells as stored, for machine consumers.
   */
  @Transform(toBool)
  @IsBoolean()
  CSV_FORMULA_ESCAPE = true;

  /** Open GET /events streams at most; one more is answered 503 with Retry-After. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_SSE_CLIENTS = 2000;
}

/** With the processor's load policies, so that POST /check judges a file as the processor would load it. */
export class IngestApiConfig extends WithLoadPolicy(ApiKeysConfig) {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  INGEST_API_PORT = 3001;

  @IsString()
  DROPZONE_DIR = './dropzone';

  /** Largest body of POST /ingest (a JSON document or NDJSON), in bytes; larger → 413. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_INGEST_BODY_BYTES = 16 * 1024 ** 2;

  /** Largest upload of POST /ingest/files, in bytes (default 4 GiB); larger → 413. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_UPLOAD_BYTES = 4 * 1024 ** 3;

  /** Requests per second one API key may make to the ingest endpoints (token bucket); 0 turns the limit off. */
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  INGEST_RATE_LIMIT = 5000;

  /** Requests one API key may send at once above the rate (the bucket's size). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  INGEST_RATE_BURST = 10000;

  /** Most payloads made durable together (one transaction, one queue message); at most MAX_BATCH_FILES (2000). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(2000)
  INGEST_BATCH_MAX = 500;

  /**
   * POST /ingest bodies up to this size are stored in the database (table ingest_payloads) with their ledger
   * row, and loaded in batches; larger ones are written to processing/ like uploads and loaded one by one.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  INGEST_INLINE_MAX_BYTES = 256 * 1024;

  /**
   * Hours an Idempotency-Key names its payload; after that the same key stores a new one, and expired keys
   * are deleted hourly. 0 keeps keys for ever.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  IDEMPOTENCY_KEY_TTL_HOURS = 24;

  /**
   * Bytes of POST /ingest bodies held in memory at once (each is read whole, then checked and stored; a
   * body costs about five times its size while it is checked). Past it a request waits up to
   * INGEST_BODY_WAIT_MS before its body is read, then gets a 503 with Retry-After. Uploads stream and are
   * not counted.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  INGEST_BODY_MEMORY_BYTES = 32 * 1024 ** 2;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  INGEST_BODY_WAIT_MS = 10_000;
}
