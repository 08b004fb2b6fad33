import { Controller, HttpCode, HttpStatus, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiPayloadTooLargeResponse, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { IngestApiConfig } from '@sluice/config';
import { ApiErrorDto, ApiException, ApiKeyProtected } from '@sluice/http';
import type { IncomingMessage } from 'node:http';
import { CheckReportDto } from './check.dto';
import { UploadQueryDto } from './ingest.dto';
import { UPLOAD_BODY_SCHEMA } from './ingest.openapi';
import { rawBody, withMultipartFile } from './multipart.util';
import { IngestRateLimitGuard } from './rate-limit.guard';
import { assertDeclaredLength, mediaType } from './request-body.util';
import { UploadCheck } from './upload-check.service';

@ApiTags('ingest')
@ApiKeyProtected()
@UseGuards(IngestRateLimitGuard)
@Controller()
export class CheckController {
  constructor(
    private readonly config: IngestApiConfig,
    private readonly uploads: UploadCheck,
  ) {}

  @Post('check')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'A dry run of loading a file: what POST /ingest/files would lead to, without storing anything',
    description:
      'The same bodies as POST /ingest/files: multipart/form-data with the field `file`, or the raw file as the body with `?filename=`. ' +
      'The file is read against the live database as the processor would load it (its kind, or the data contract that takes an upload of that name, ' +
      'and the processor’s INVALID_ROWS / MAX_INVALID_RATIO policies) and the report is the answer: rows in total, rows that would load, rows already loaded ' +
      '(by the file’s SHA-256 and by key), rejected rows by rule with samples, the drift from its contract, and the verdict `load`, `duplicate` or `quarantine`. ' +
      'Nothing is written: no ledger row, nothing in the drop folder, no table touched (the upload is held in a temporary file while it is read, then removed). ' +
      'Rows of JSON, NDJSON and log files are not counted (`rows_total` null, see `reason`); their kind and duplicate content are.',
  })
  @ApiConsumes('multipart/form-data', 'application/octet-stream', 'text/csv', 'application/gzip')
  @ApiBody({ schema: UPLOAD_BODY_SCHEMA })
  @ApiOkResponse({ type: CheckReportDto, description: 'The report; a file that would be quarantined is still a 200 (see `verdict` and `reason`).' })
  @ApiPayloadTooLargeResponse({ type: ApiErrorDto, description: 'File over MAX_UPLOAD_BYTES.' })
  @ApiTooManyRequestsResponse({ type: ApiErrorDto, description: 'Over INGEST_RATE_LIMIT for this API key; `Retry-After` says when to try again.' })
  async check(@Req() req: IncomingMessage, @Query() q: UploadQueryDto): Promise<CheckReportDto> {
    assertDeclaredLength(req, this.config.MAX_UPLOAD_BYTES, 'MAX_UPLOAD_BYTES');
    if (mediaType(req.headers['content-type']) === 'multipart/form-data') {
      return withMultipartFile(req, (part) => this.uploads.check(part.file, part.filename ?? q.filename ?? 'upload', part.complete));
    }
    if (!q.filename) throw ApiException.invalidParameter('filename', 'a raw upload needs ?filename= (or send multipart/form-data with the field "file")');
    return this.uploads.check(rawBody(req), q.filename);
  }
}
