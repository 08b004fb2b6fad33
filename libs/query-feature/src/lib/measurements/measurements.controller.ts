import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { microsToIso, parseInstant } from '@sluice/formats';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { decodeTsCursor, encodeTsCursor } from '../http/cursor.util';
import { assertRange, toTimestamptzText } from '../http/time-range';
import { DEFAULT_MEASUREMENTS_PAGE, MeasurementDto, MeasurementsPageDto, MeasurementsQueryDto } from './measurements.dto';
import { MeasurementsRepository } from './measurements.repository';

@ApiTags('measurements')
@ApiKeyProtected()
@Controller('measurements')
export class MeasurementsController {
  constructor(private readonly measurements: MeasurementsRepository) {}

  @Get()
  @ApiOperation({ summary: 'Measurement payload summaries in time order', description: 'Range [from, to). Keyset pagination: follow `next_cursor` until it is null.' })
  @ApiOkResponse({ type: MeasurementsPageDto })
  async list(@Query() q: MeasurementsQueryDto): Promise<MeasurementsPageDto> {
    assertRange(q.from, q.to);
    const limit = q.limit ?? DEFAULT_MEASUREMENTS_PAGE;
    const rows = await this.measurements.list({
      from: q.from === undefined ? undefined : toTimestamptzText(q.from),
      to: q.to === undefined ? undefined : toTimestamptzText(q.to),
      after: q.cursor === undefined ? undefined : decodeTsCursor(q.cursor),
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const measurements = more ? rows.slice(0, limit) : rows;
    return { measurements, next_cursor: more ? encodeTsCursor(measurements[measurements.length - 1].timestamp_utc) : null };
  }

  @Get(':timestamp_utc')
  @ApiOperation({ summary: 'The measurement at one instant' })
  @ApiParam({ name: 'timestamp_utc', description: 'ISO-8601 date-time with an offset (URL-encode a `+`).', example: '2019-05-01T10:00:00Z' })
  @ApiOkResponse({ type: MeasurementDto })
  @ApiNotFound('No measurement at that instant.')
  async get(@Param('timestamp_utc') timestampUtc: string): Promise<MeasurementDto> {
    // The key is an instant: the rule of a payload's time_stamp (an offset required), not a guess.
    const us = timestampUtc.length <= 64 ? parseInstant(timestampUtc) : NaN;
    if (Number.isNaN(us)) {
      throw ApiException.invalidParameter('timestamp_utc', 'must be an ISO-8601 date-time with an offset, e.g. 2019-05-01T10:00:00Z');
    }
    const row = await this.measurements.get(microsToIso(us));
    if (row === undefined) throw ApiException.notFound('measurement', timestampUtc);
    return row;
  }
}
