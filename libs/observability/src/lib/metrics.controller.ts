import { Controller, Get, Headers, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { CommonConfig } from '@sluice/config';
import { ApiKeyMatcher } from '@sluice/http';
import type { ServerResponse } from 'node:http';
import { register } from 'prom-client';

const BEARER = /^Bearer\s+(.+)$/i;

/**
 * Prometheus text. Open unless METRICS_API_KEYS is set; then a scraper sends one of those keys as
 * `Authorization: Bearer …` (Prometheus' `authorization.credentials`) or `x-api-key`.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  private readonly keys: ApiKeyMatcher;

  constructor(config: CommonConfig) {
    this.keys = new ApiKeyMatcher(config.metricsKeys, []);
  }

  @Get()
  async metrics(@Headers('authorization') authorization: string | undefined, @Headers('x-api-key') apiKey: string | undefined, @Res() res: ServerResponse): Promise<void> {
    if (this.keys.hasKeys && this.keys.match(BEARER.exec(authorization ?? '')?.[1] ?? apiKey) !== 'accepted') {
      // Written here, not thrown: the watcher and processor have no API error filter, and the format is the same.
      const body = { error: { code: 'unauthorized', message: 'metrics need a key from METRICS_API_KEYS (Authorization: Bearer <key> or x-api-key)', details: null } };
      res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8', 'WWW-Authenticate': 'Bearer' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'Content-Type': register.contentType }).end(await register.metrics());
  }
}
