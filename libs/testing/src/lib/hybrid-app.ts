import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { CustomTransportStrategy } from '@nestjs/microservices';

/**
 * A service as its main.ts starts it, without an HTTP port: the app initialised, then the transport of its
 * message handlers (`strategy`) started, so a spec exercises the same handlers as production.
 */
export async function startHybridApp(rootModule: unknown, strategy: (app: INestApplication) => CustomTransportStrategy, logger: LogLevel[] = ['error', 'warn']): Promise<INestApplication> {
  const app = await NestFactory.create(rootModule as never, { logger });
  app.connectMicroservice({ strategy: strategy(app) });
  await app.init();
  await app.startAllMicroservices();
  return app;
}
