import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { assertRange, optionalTimestamptz as ts } from '../http/time-range';
import { decodeKeyset, encodeKeyset } from './keyset-cursor.util';
import {
  DEFAULT_PAGE,
  DetectionsPageDto,
  DetectionsQueryDto,
  DetectionsRangeQueryDto,
  VehicleDto,
  VehiclesPageDto,
  VehiclesQueryDto,
} from './vehicles.dto';
import { type DetectionsFilter, VehiclesRepository } from './vehicles.repository';

const ID_PARAM = { name: 'id', description: 'Vehicle id as received (URL-encoded).', example: '8fd7b0fa-7f2f-4dd4-8cda-31e1e1b1a5bb' };
@ApiTags('vehicles')
@ApiKeyProtected()
@Controller()
export class VehiclesController {
  constructor(private readonly vehicles: VehiclesRepository) {}

  @Get('vehicles')
  @ApiOperation({ summary: 'Latest status of every vehicle, by vehicle_id', description: 'Keyset pagination: follow `next_cursor` until it is null.' })
  @ApiOkResponse({ type: VehiclesPageDto })
  async list(@Query() q: VehiclesQueryDto): Promise<VehiclesPageDto> {
    const limit = q.limit ?? DEFAULT_PAGE;
    const afterId = q.cursor === undefined ? undefined : decodeKeyset(q.cursor, ['text'])[0];
    const rows = await this.vehicles.list({ status: q.status, afterId, limit: limit + 1 });
    const more = rows.length > limit;
    const vehicles = more ? rows.slice(0, limit) : rows;
    return { vehicles, next_cursor: more ? encodeKeyset([vehicles[vehicles.length - 1].vehicle_id]) : null };
  }

  @Get('vehicles/:id')
  @ApiOperation({ summary: 'The latest status of one vehicle' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: VehicleDto })
  @ApiNotFound('No status received for that vehicle.')
  async get(@Param('id') id: string): Promise<VehicleDto> {
    const vehicle = await this.vehicles.get(id);
    if (vehicle === undefined) throw ApiException.notFound('vehicle', id);
    return vehicle;
  }

  @Get('vehicles/:id/detections')
  @ApiOperation({ summary: 'Object detections of one vehicle in time order', description: 'Range [from, to). Keyset pagination with `next_cursor`.' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: DetectionsPageDto })
  @ApiNotFound('No status and no detection for that vehicle.')
  async vehicleDetections(@Param('id') id: string, @Query() q: DetectionsRangeQueryDto): Promise<DetectionsPageDto> {
    const page = await this.page({ ...q, vehicle_id: id });
    if (page.detections.length === 0 && !(await this.vehicles.exists(id))) throw ApiException.notFound('vehicle', id);
    return page;
  }

  @Get('detections')
  @ApiTags('detections')
  @ApiOperation({ summary: 'Object detections of every vehicle in time order', description: 'Filters combine; range [from, to). Keyset pagination with `next_cursor`.' })
  @ApiOkResponse({ type: DetectionsPageDto })
  detections(@Query() q: DetectionsQueryDto): Promise<DetectionsPageDto> {
    return this.page(q);
  }

  private async page(q: DetectionsQueryDto): Promise<DetectionsPageDto> {
    assertRange(q.from, q.to);
    const limit = q.limit ?? DEFAULT_PAGE;
    let after: DetectionsFilter['after'];
    if (q.cursor !== undefined) {
      const [time, vehicleId, objectType] = decodeKeyset(q.cursor, ['ts', 'text', 'text']);
      after = { time, vehicleId, objectType };
    }
    const rows = await this.vehicles.detections({ vehicleId: q.vehicle_id, objectType: q.object_type, from: ts(q.from), to: ts(q.to), after, limit: limit + 1 });
    const more = rows.length > limit;
    const detections = more ? rows.slice(0, limit) : rows;
    const last = detections[detections.length - 1];
    return { detections, next_cursor: more ? encodeKeyset([last.detection_time, last.vehicle_id, last.object_type]) : null };
  }
}
