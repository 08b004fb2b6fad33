import { Controller, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { IngestApiConfig } from '@sluice/config';
import type { IngestFile } from '@sluice/db';
import { API_KEY_HEADER, ApiErrorDto, ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { ReplayException, ReplayService } from '@sluice/replay';
import type { IncomingMessage } from 'node:http';
import { FileIdParamsDto, IngestAcceptedDto, IngestStatusDto, ProcessQueryDto, ProcessResultDto, RawIdParamsDto, UploadQueryDto } from './ingest.dto';
import { INGEST_BODY_EXAMPLES, INGEST_BODY_SCHEMA, UPLOAD_BODY_SCHEMA } from './ingest.openapi';
import { BODY_BUDGET_RETRY_AFTER_S, BodyBudget } from './body-budget';
import { IngestService, unsupportedMediaType, type Accepted } from './ingest.service';
import { withMultipartFile, rawBody } from './multipart.util';
import { IngestRateLimitGuard } from './rate-limit.guard';
import { assertDeclaredLength, mediaType, readBody } from './request-body.util';

const JSON_TYPES = ['application/json', 'application/x-ndjson'];
const DEFAULT_STUCK_MS = 60000;

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

const IdempotencyHeader = () =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Any 1–255 visible ASCII characters. The same key (with the same API key) and the same request returns the first raw_id and stores nothing new; `Idempotent-Replayed: true` says so. ' +
      'The same key with another request (another body, JSON/NDJSON format, route or file name) is refused: 422 `idempotency_key_reused`. ' +
      'A key is remembered for IDEMPOTENCY_KEY_TTL_HOURS (default 24).',
  });

const UNAVAILABLE = 'The database or the disk failed, or (POST /ingest) too many bodies are being read at once (INGEST_BODY_MEMORY_BYTES; `Retry-After`); nothing was accepted, retry (with the same Idempotency-Key).';

/** `written`: what of the request is written to the drop folder, whose 503 then also covers a disk below MIN_FREE_DISK. */
const Refusals = (written?: string) => (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
  ApiTooManyRequestsResponse({ type: ApiErrorDto, description: 'Over INGEST_RATE_LIMIT for this API key; `Retry-After` says when to try again.' })(target, key, descriptor);
  const diskLow =
    `\`disk_low\` (with \`Retry-After\`, seconds): the drop folder's file system has less than MIN_FREE_DISK free (or filled up during the write), and ${written} is written there; ` +
    'refused before it is read, nothing stored (`details`: `free_bytes`, `min_free_bytes`, `retry_after_seconds`); accepted again once space is freed. `service_unavailable`: ';
  ApiServiceUnavailableResponse({ type: ApiErrorDto, description: written ? diskLow + UNAVAILABLE.charAt(0).toLowerCase() + UNAVAILABLE.slice(1) : UNAVAILABLE })(target, key, descriptor);
};

@ApiTags('ingest')
@ApiKeyProtected()
@UseGuards(IngestRateLimitGuard)
@Controller()
export class IngestController {
  constructor(
    private readonly config: IngestApiConfig,
    private readonly ingest: IngestService,
    private readonly replays: ReplayService,
    private readonly bodyBudget: BodyBudget,
  ) {}

  @Post('ingest')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Ingest one JSON document or an NDJSON body',
    description:
      'The body is checked as the processor will read it, stored durably byte for byte (committed with its ledger row in PostgreSQL; bodies over INGEST_INLINE_MAX_BYTES ' +
      'written to processing/ and fsynced), recorded in the ledger and queued, and only then answered 202. ' +
      'Follow `status_url` to see it processed. Kinds: measurement (`time_stamp` + `data`), vehicle status (`vehicle_status`), object detections (`objects_detection_events`), ' +
      'or NDJSON lines routed by `kind`.',
  })
  @ApiConsumes(...JSON_TYPES)
  @ApiBody({ schema: INGEST_BODY_SCHEMA, examples: INGEST_BODY_EXAMPLES })
  @IdempotencyHeader()
  @ApiAcceptedResponse({ type: IngestAcceptedDto, description: 'Stored durably and queued.' })
  @ApiUnprocessableEntityResponse({
    type: ApiErrorDto,
    description:
      'A document the processor would reject: `details.problems` lists `{line?, field, rule, message, value}` (e.g. `data[2]` `not_a_number`). Also an unknown shape. ' +
      'Or `idempotency_key_reused`: the Idempotency-Key was used before with another request (`details`: `idempotency_key`, `raw_id`).',
  })
  @ApiPayloadTooLargeResponse({ type: ApiErrorDto, description: 'Body over MAX_INGEST_BODY_BYTES.' })
  @ApiUnsupportedMediaTypeResponse({ type: ApiErrorDto, description: 'Content-Type other than application/json or application/x-ndjson.' })
  @Refusals('a body over INGEST_INLINE_MAX_BYTES (a smaller one is kept in PostgreSQL and still accepted)')
  async ingestPayload(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: HeaderSink,
    @Headers('content-type') contentType?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<IngestAcceptedDto> {
    const type = mediaType(contentType);
    if (type !== 'application/json' && type !== 'application/x-ndjson') throw unsupportedMediaType(type, JSON_TYPES);
    const scope = this.ingest.scope(apiKeyOf(req), idempotencyKey);
    assertDeclaredLength(req, this.config.MAX_INGEST_BODY_BYTES, 'MAX_INGEST_BODY_BYTES');
    // A body declared larger than INGEST_INLINE_MAX_BYTES would go to the drop folder: refused unread while its disk is low.
    if (bodyWeight(req, 0) > this.config.INGEST_INLINE_MAX_BYTES) await this.ingest.refuseIfDiskLow();
    // Held from before the body is read until it is stored: bodies in memory stay within INGEST_BODY_MEMORY_BYTES.
    const release = await this.bodyBudget.acquire(bodyWeight(req, this.config.MAX_INGEST_BODY_BYTES)).catch((e: unknown) => {
      res.setHeader('Retry-After', String(BODY_BUDGET_RETRY_AFTER_S));
      throw e;
    });
    try {
      const body = await readBody(req, this.config.MAX_INGEST_BODY_BYTES, 'MAX_INGEST_BODY_BYTES');
      return accepted(res, await this.ingest.acceptPayload(body, type === 'application/json' ? 'json' : 'ndjson', scope));
    } finally {
      release();
    }
  }

  @Post('ingest/files')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Upload a file (CSV, JSON, NDJSON; plain, gzip or zip) of any size',
    description:
      'multipart/form-data with the field `file`, or the raw file as the body (any other Content-Type) with `?filename=`. Streamed to disk as it arrives (never held in memory), ' +
      'fsynced, recorded and queued; then 202. The kind is detected by the processor from the content.\n\n' +
      'Compressed input is known by its first bytes, not its name or Content-Type. A **gzip** file is one file: it is recorded with the SHA-256 and size of its ' +
      'uncompressed content (so the same data gzipped or not is a `duplicate`) and decompressed as it loads. A **zip** archive is unpacked by the processor: each ' +
      'member becomes a file of its own (`GET /ingest/{raw_id}` of the archive shows it `processed`, kind `zip_archive`, `rows_total` = its members; ' +
      '`GET /files?archive_id=` on the query-api lists them). An archive inside an archive is quarantined `nested_archive`; content over MAX_DECOMPRESSED_BYTES ' +
      'or expanding more than MAX_COMPRESSION_RATIO times is quarantined `decompression_limit` the moment it crosses the limit; a corrupt one `invalid_compression`.',
  })
  @ApiConsumes('multipart/form-data', 'application/octet-stream', 'text/csv', 'application/gzip', 'application/zip')
  @ApiBody({ schema: UPLOAD_BODY_SCHEMA })
  @IdempotencyHeader()
  @ApiAcceptedResponse({ type: IngestAcceptedDto, description: 'Stored durably and queued.' })
  @ApiPayloadTooLargeResponse({ type: ApiErrorDto, description: 'File over MAX_UPLOAD_BYTES.' })
  @ApiUnprocessableEntityResponse({ type: ApiErrorDto, description: '`idempotency_key_reused`: the Idempotency-Key was used before with another request (`details`: `idempotency_key`, `raw_id`).' })
  @Refusals('every upload')
  async ingestFile(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: HeaderSink, @Query() q: UploadQueryDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<IngestAcceptedDto> {
    const scope = this.ingest.scope(apiKeyOf(req), idempotencyKey);
    assertDeclaredLength(req, this.config.MAX_UPLOAD_BYTES, 'MAX_UPLOAD_BYTES');
    // Before the body is touched: Node then discards it unread, and the client has its 503 at once.
    await this.ingest.refuseIfDiskLow();
    if (mediaType(req.headers['content-type']) === 'multipart/form-data') {
      return accepted(res, await withMultipartFile(req, (part) => this.ingest.acceptUpload(part.file, part.filename ?? q.filename ?? 'upload', scope, part.complete)));
    }
    if (!q.filename) throw ApiException.invalidParameter('filename', 'a raw upload needs ?filename= (or send multipart/form-data with the field "file")');
    return accepted(res, await this.ingest.acceptUpload(rawBody(req), q.filename, scope));
  }

  @Get('ingest/:raw_id')
  @ApiOperation({ summary: 'Where a payload or upload stands', description: 'Ledger state: status, kind, row counts, the reason of a quarantine and the first rejected rows.' })
  @ApiOkResponse({ type: IngestStatusDto })
  @ApiNotFound('No payload with that raw_id.')
  status(@Param() p: RawIdParamsDto): Promise<IngestStatusDto> {
    return this.ingest.status(p.raw_id);
  }

  @Post('process')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Re-drive stuck and failed items',
    description: 'Publishes again every payload or file queued/processing without change for `older_than_ms`, and (unless `failed=false`) replays those that ended `failed`.',
  })
  @ApiOkResponse({ type: ProcessResultDto })
  @Refusals()
  async process(@Query() q: ProcessQueryDto): Promise<ProcessResultDto> {
    const { redriven } = await this.replays.redriveStuck(q.older_than_ms ?? DEFAULT_STUCK_MS);
    const failed = q.failed === false ? { replayed: [], skipped: [] } : await this.replays.replayWhere({ status: 'failed' });
    return { redriven, replayed: failed.replayed.map((r) => r.id), skipped: failed.skipped };
  }

  @Post('files/:id/replay')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Re-run one finished file',
    description:
      'For a file that ended quarantined, failed or processed: its bytes go back to processing/, its ledger row back to queued (row errors cleared), and it is queued again. ' +
      'Replaying a processed file loads the same rows again, which changes nothing unless the rules changed (loads are idempotent).',
  })
  @ApiAcceptedResponse({ type: IngestStatusDto, description: 'Queued again.' })
  @ApiNotFound('No file with that id.')
  @ApiConflictResponse({
    type: ApiErrorDto,
    description:
      'Code `conflict`, `details.reason`: not_replayable (still queued/processing, or a duplicate), content_live (the same content is live as another file) or file_missing. ' +
      'Code `file_expired` (and `details.reason` file_expired): retention removed the stored bytes (PROCESSED_RETENTION, QUARANTINE_RETENTION, PAYLOAD_RETENTION); `details.expiredAt` says when.',
  })
  @Refusals()
  async replay(@Param() p: FileIdParamsDto): Promise<IngestStatusDto> {
    let queued: IngestFile;
    try {
      queued = await this.replays.replay(p.id);
    } catch (e) {
      if (!(e instanceof ReplayException)) throw e;
      if (e.code === 'not_found') throw ApiException.notFound('file', p.id);
      throw new ApiException(HttpStatus.CONFLICT, e.code === 'file_expired' ? 'file_expired' : 'conflict', e.message, { reason: e.code, ...e.details });
    }
    return this.ingest.statusOf(queued);
  }
}

/** What a body will hold in memory: its declared length, or the most it may be when it is sent chunked. */
function bodyWeight(req: IncomingMessage, max: number): number {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared >= 0 ? declared : max;
}

function apiKeyOf(req: IncomingMessage): string | undefined {
  const h = req.headers[API_KEY_HEADER];
  return typeof h === 'string' ? h : undefined;
}

function accepted(res: HeaderSink, a: Accepted): IngestAcceptedDto {
  const statusUrl = `/ingest/${a.rawId}`;
  res.setHeader('Location', statusUrl);
  if (a.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return { raw_id: a.rawId, status_url: statusUrl };
}
