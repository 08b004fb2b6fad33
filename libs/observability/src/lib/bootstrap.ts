import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { CommonConfig, ConfigError } from '@sluice/config';
import { applyHttpServerLimits, BoundedExpressAdapter } from '@sluice/http';
import type { Server } from 'node:http';
import { Logger } from 'nestjs-pino';

export interface BootstrapOptions {
  /** Port getter, read after config validation. */
  port(app: INestApplication): number;
  openApi?: { title: string; description: string; apiKeyHeader?: string };
  configure?(app: INestApplication): void;
  /** Express's JSON/urlencoded body parsers (default on). Off for an app that reads raw request bodies itself. */
  bodyParser?: boolean;
}

/**
 * Starts one service: validated config (a bad variable prints its name and exits 1), JSON logs,
 * OpenAPI for the APIs, the microservice transports that `configure` connects, and graceful shutdown on
 * SIGTERM/SIGINT (Nest closes modules in order, and drains the transports before the connections close).
 */
export async function bootstrapService(rootModule: unknown | (() => unknown), opts: BootstrapOptions): Promise<INestApplication> {
  let app: INestApplication;
  try {
    // A factory (`() => AppModule.forRoot()`) lets config validation fail here, with a clean message.
    const isFactory = typeof rootModule === 'function' && !(rootModule as { prototype?: unknown }).prototype;
    const root = isFactory ? (rootModule as () => unknown)() : rootModule;
    app = await NestFactory.create(root as never, new BoundedExpressAdapter(), { bufferLogs: true, bodyParser: opts.bodyParser ?? true });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  app.useLogger(app.get(Logger));
  // process.exit(0) after the graceful close (the default re-raises the signal: exit 143, and pino may not flush).
  app.enableShutdownHooks(undefined, { useProcessExit: true });
  opts.configure?.(app);
  if (opts.openApi) {
    const builder = new DocumentBuilder().setTitle(opts.openApi.title).setDescription(opts.openApi.description).setVersion('1.0');
    if (opts.openApi.apiKeyHeader) builder.addApiKey({ type: 'apiKey', in: 'header', name: opts.openApi.apiKeyHeader }, 'api-key');
    const doc = SwaggerModule.createDocument(app, builder.build());
    SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs-json' });
  }
  await app.init();
  // A hybrid app's transports (connected in `configure`) start once the modules hold their connections.
  await app.startAllMicroservices();
  // Header, idle and connection bounds (slowloris); see CommonConfig.
  applyHttpServerLimits(app.getHttpServer() as Server, app.get(CommonConfig).httpServerLimits);
  await app.listen(opts.port(app), app.get(CommonConfig).BIND_ADDRESS);
  return app;
}
