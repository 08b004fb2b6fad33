import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { decodeTsCursor, encodeTsCursor } from '../http/cursor.util';
import { assertRange, toTimestamptzText } from '../http/time-range';
import { AggregatesDto, AggregatesQueryDto, DEFAULT_READINGS_PAGE, ReadingsPageDto, ReadingsQueryDto, SensorDto } from './sensors.dto';
import { type ReadingsRange, SensorsRepository } from './sensors.repository';

const NAME_PARAM = {
  name: 'name',
  description: 'Sensor name, URL-encoded (it may hold `/` and `:`), e.g. `b8%3A27%3Aeb%3Abf%3A9d%3A51%2Ftemp`.',
  example: 'b8:27:eb:bf:9d:51/temp',
};

const ts = (v: string | undefined) => (v === undefined ? undefined : toTimestamptzText(v));

@ApiTags('sensors')
@ApiKeyProtected()
@Controller('sensors')
export class SensorsController {
  constructor(private readonly sensors: SensorsRepository) {}

  @Get()
  @ApiOperation({ summary: 'Every sensor with its reading count and first/last reading time' })
  @ApiOkResponse({ type: [SensorDto], description: 'A JSON array, ordered by name.' })
  list(): Promise<SensorDto[]> {
    return this.sensors.listSensors();
  }

  // Accept: text/csv and application/x-ndjson (streamed export of the whole range) will branch here,
  // over the same range as page() but through a server-side cursor instead of pages.
  @Get(':name/readings')
  @ApiOperation({
    summary: 'Readings of one sensor in time order',
    description:
      'Range [from, to). Keyset pagination: follow `next_cursor` until it is null. ' +
      'Offset pagination with `page`/`page_size` gives the same order (deep pages are slower).',
  })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: ReadingsPageDto })
  @ApiNotFound('No sensor of that name.')
  async readings(@Param('name') name: string, @Query() q: ReadingsQueryDto): Promise<ReadingsPageDto> {
    assertRange(q.from, q.to);
    const pageMode = q.page !== undefined || q.page_size !== undefined;
    if (pageMode && q.cursor !== undefined) throw ApiException.invalidParameter('cursor', 'cannot be combined with page/page_size');
    const size = (pageMode ? q.page_size : undefined) ?? q.limit ?? DEFAULT_READINGS_PAGE;
    const range: ReadingsRange = {
      from: ts(q.from),
      to: ts(q.to),
      after: q.cursor === undefined ? undefined : decodeTsCursor(q.cursor),
      offset: pageMode ? ((q.page ?? 1) - 1) * size : 0,
      // One more than asked tells whether another page exists.
      limit: size + 1,
    };
    const rows = await this.sensors.readings(name, range);
    if (rows === undefined) throw ApiException.notFound('sensor', name);
    const more = rows.length > size;
    const readings = more ? rows.slice(0, size) : rows;
    return { sensor: name, readings, next_cursor: more ? encodeTsCursor(readings[readings.length - 1].ts) : null };
  }

  @Get(':name/aggregates')
  @ApiOperation({ summary: 'Count, min, max, mean and std dev per hour or day bucket', description: 'Buckets whose start lies in [from, to).' })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: AggregatesDto })
  @ApiNotFound('No sensor of that name.')
  async aggregates(@Param('name') name: string, @Query() q: AggregatesQueryDto): Promise<AggregatesDto> {
    assertRange(q.from, q.to);
    const bucket = q.bucket ?? 'hour';
    const aggregates = await this.sensors.aggregates(name, bucket, ts(q.from), ts(q.to));
    if (aggregates === undefined) throw ApiException.notFound('sensor', name);
    return { sensor: name, bucket, aggregates };
  }
}
