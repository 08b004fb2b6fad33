import { Controller, Get, Headers, Logger, Param, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { QueryApiConfig } from '@sluice/config';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { Readable } from 'node:stream';
import { decodeTsCursor, encodeTsCursor } from '../http/cursor.util';
import { exportResponse } from '../http/export-stream';
import { retentionHeaderDoc, retentionNote, setRetentionHeader } from '../http/retention-horizon';
import { assertRange, optionalTimestamptz as ts } from '../http/time-range';
import { AggregatesDto, AggregatesQueryDto, DEFAULT_READINGS_PAGE, ReadingsPageDto, ReadingsQueryDto, SensorDto } from './sensors.dto';
import { type ReadingsRange, SensorsRepository } from './sensors.repository';
import { EXPORT_CONTENT_TYPES, exportFileName, exportFormatFor, type ExportFormat, ReadingsEncoder } from './readings-export';

/**
 * The parts as a stream that holds them all from the start. Not `Readable.from(parts)`: it reads through an async
 * iterator, and the promises of that leave ~8 MB alive in V8's young generation at every scavenge (all of it then
 * promoted, 4–26 ms a scavenge and an old-generation collection every few seconds: most of the latency tail).
 * Pushed at once, almost nothing survives a scavenge.
 */
function pushedStream(parts: readonly string[]): Readable {
  const stream = new Readable({
    read() {
      // Everything is pushed below, before the first read.
    },
  });
  for (const part of parts) stream.push(part);
  stream.push(null);
  return stream;
}

const NAME_PARAM = {
  name: 'name',
  description: 'Sensor name, URL-encoded (it may hold `/` and `:`), e.g. `b8%3A27%3Aeb%3Abf%3A9d%3A51%2Ftemp`.',
  example: 'b8:27:eb:bf:9d:51/temp',
};

@ApiTags('sensors')
@ApiKeyProtected()
@Controller('sensors')
export class SensorsController {
  private readonly logger = new Logger(SensorsController.name);

  constructor(
    private readonly sensors: SensorsRepository,
    private readonly config: QueryApiConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every sensor with its reading count and first/last reading time' })
  @ApiOkResponse({ type: [SensorDto], description: 'A JSON array, ordered by name.' })
  list(): Promise<SensorDto[]> {
    return this.sensors.listSensors();
  }

  @Get(':name/readings')
  @ApiOperation({
    summary: 'Readings of one sensor in time order (JSON pages, or a CSV / NDJSON export of the whole range)',
    description:
      'Range [from, to): `from` included, `to` excluded. Keyset pagination: follow `next_cursor` until it is null. ' +
      'Offset pagination with `page`/`page_size` gives the same order (deep pages are slower).\n\n' +
      'With `Accept: text/csv` (columns `ts,value,file_id`) or `Accept: application/x-ndjson` (one ' +
      '`{"ts","value","file_id"}` a line) the whole range is streamed from a database cursor, however large; ' +
      '`limit`, `cursor`, `page` and `page_size` are refused there. A failure mid-stream aborts the ' +
      'connection, so a truncated export never looks complete.',
  })
  @ApiParam(NAME_PARAM)
  @ApiProduces('application/json', 'text/csv', 'application/x-ndjson')
  @ApiOkResponse({ type: ReadingsPageDto, headers: retentionHeaderDoc('readings') })
  @ApiNotFound('No sensor of that name.')
  async readings(
    @Param('name') name: string,
    @Query() q: ReadingsQueryDto,
    @Res({ passthrough: true }) res: { setHeader(name: string, value: string): unknown },
    @Headers('accept') accept?: string,
  ): Promise<StreamableFile> {
    assertRange(q.from, q.to);
    const retention = retentionNote(this.config, 'readings', q.from);
    const format = exportFormatFor(accept);
    if (format) {
      const file = await this.export(name, format, q);
      setRetentionHeader(res, retention);
      return file;
    }
    const pageMode = q.page !== undefined || q.page_size !== undefined;
    if (pageMode && q.cursor !== undefined) throw ApiException.invalidParameter('cursor', 'cannot be combined with page/page_size');
    const size = (pageMode ? q.page_size : undefined) ?? q.limit ?? DEFAULT_READINGS_PAGE;
    const range: ReadingsRange = {
      from: ts(q.from),
      to: ts(q.to),
      after: q.cursor === undefined ? undefined : decodeTsCursor(q.cursor),
      offset: pageMode ? ((q.page ?? 1) - 1) * size : 0,
      limit: size,
    };
    const page = await this.sensors.readingsPage(name, range);
    if (page === undefined) throw ApiException.notFound('sensor', name);
    setRetentionHeader(res, retention);
    const nextCursor = page.more && page.lastTs !== null ? encodeTsCursor(page.lastTs) : null;
    // The readings arrive as JSON text in pieces; the page around them is the ReadingsPageDto shape. The
    // pieces go to the socket as they are, never joined into one large string (see READINGS_PER_PIECE).
    const parts = [`{"sensor":${JSON.stringify(name)},"readings":[`];
    // Separators stay parts of their own: `,${piece}` would copy the piece (a cons string, flattened on write).
    page.readingsJson.forEach((piece, i) => (i === 0 ? parts.push(piece) : parts.push(',', piece)));
    parts.push(`],"next_cursor":${JSON.stringify(nextCursor)}${retention ? `,"retention":${JSON.stringify(retention)}` : ''}}`);
    return new StreamableFile(pushedStream(parts), {
      type: 'application/json; charset=utf-8',
      length: parts.reduce((n, p) => n + Buffer.byteLength(p), 0),
    });
  }

  /** The whole range through a cursor; Nest pipes it to the socket and destroys it if the client goes. */
  private async export(name: string, format: ExportFormat, q: ReadingsQueryDto): Promise<StreamableFile> {
    for (const p of ['limit', 'cursor', 'page', 'page_size'] as const) {
      if (q[p] !== undefined) throw ApiException.invalidParameter(p, `pages do not apply to a ${format} export, which streams the whole range`);
    }
    const sensorId = await this.sensors.sensorId(name);
    if (sensorId === undefined) throw ApiException.notFound('sensor', name);
    const rows = await this.sensors.exportReadings(sensorId, ts(q.from), ts(q.to));
    return exportResponse(rows, new ReadingsEncoder(format, { neutraliseFormulas: this.config.CSV_FORMULA_ESCAPE }), EXPORT_CONTENT_TYPES[format], exportFileName(name, format), this.logger, name);
  }

  @Get(':name/aggregates')
  @ApiOperation({ summary: 'Count, min, max, mean and std dev per hour or day bucket', description: 'Buckets whose start lies in [from, to).' })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: AggregatesDto, headers: retentionHeaderDoc('hourly_aggregates', 'daily_aggregates') })
  @ApiNotFound('No sensor of that name.')
  async aggregates(
    @Param('name') name: string,
    @Query() q: AggregatesQueryDto,
    @Res({ passthrough: true }) res: { setHeader(name: string, value: string): unknown },
  ): Promise<AggregatesDto> {
    assertRange(q.from, q.to);
    const bucket = q.bucket ?? 'hour';
    const aggregates = await this.sensors.aggregates(name, bucket, ts(q.from), ts(q.to));
    if (aggregates === undefined) throw ApiException.notFound('sensor', name);
    const retention = retentionNote(this.config, bucket === 'hour' ? 'hourly_aggregates' : 'daily_aggregates', q.from);
    setRetentionHeader(res, retention);
    return retention ? { sensor: name, bucket, aggregates, retention } : { sensor: name, bucket, aggregates };
  }
}
