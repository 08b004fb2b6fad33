import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ReadinessRegistry } from './readiness.registry';

@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly registry: ReadinessRegistry,
  ) {}

  /** The process is up and its event loop turns. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Every required dependency (database, NATS) answers; one that is not required is reported `degraded` when it does not. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check(
      this.registry.entries().map(([name, { check, required }]) => async () => {
        const indicator = this.indicators.check(name);
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([check(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out after 2 s')), 2000)))]);
          return indicator.up();
        } catch (e) {
          const message = (e as Error).message;
          return required ? indicator.down({ message }) : indicator.up({ degraded: true, message });
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
