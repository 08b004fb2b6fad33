import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { CommonConfig, ConfigError, loadConfig } from '@sluice/config';
import { applyHttpServerLimits, BoundedExpressAdapter } from '@sluice/http';
import type { Server } from 'node:http';
import { Logger } from 'nestjs-pino';
import { checkNats, checkPort, checkPostgres, StartError } from './start-checks';

export interface BootstrapOptions {
  /** Port getter, read after config validation. */
  port(app: INestApplication): number;
  /** The variable that sets the port: when given, the port is checked free before anything starts. */
  portVariable?: string;
  /** PostgreSQL and NATS the service cannot start without, checked first (see runService). */
  needs?: { postgres?: boolean; nats?: boolean };
  openApi?: { title: string; description: string; apiKeyHeader?: string };
  configure?(app: INestApplication): void;
  /** Express's JSON/urlencoded body parsers (default on). Off for an app that reads raw request bodies itself. */
  bodyParser?: boolean;
}

/**
 * A service's main: bootstrapService, and any failure to start told in one line on stderr, naming what is
 * missing, the variable that names it and the fix (`✗ processor cannot start: …`), then exit 1. Nothing says
 * "started" before the service serves: PostgreSQL, NATS and the port are checked before the modules start.
 */
export async function runService(name: string, rootModule: unknown | (() => unknown), opts: BootstrapOptions & { portVariable: string }): Promise<void> {
  try {
    await bootstrapService(rootModule, { needs: { postgres: true, nats: true }, ...opts });
  } catch (e) {
    process.stderr.write(`✗ ${name} cannot start: ${e instanceof StartError ? e.message : oneLine(e)}\n`);
    process.exit(1);
  }
}

const oneLine = (e: unknown) => (e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e)).replace(/\s*\n\s*/g, ' ');

/**
 * Starts one service: validated config (a bad variable prints its name and exits 1), JSON logs,
 * OpenAPI for the APIs, the microservice transports that `configure` connects, and graceful shutdown on
 * SIGTERM/SIGINT (Nest closes modules in order, and drains the transports before the connections close).
 */
export async function bootstrapService(rootModule: unknown | (() => unknown), opts: BootstrapOptions): Promise<INestApplication> {
  let root: unknown;
  try {
    // A factory (`() => AppModule.forRoot()`) lets config validation fail here, with a clean message, before
    // anything is checked or connected.
    const isFactory = typeof rootModule === 'function' && !(rootModule as { prototype?: unknown }).prototype;
    root = isFactory ? (rootModule as () => unknown)() : rootModule;
  } catch (e) {
    if (e instanceof ConfigError) exitWith(e);
    throw e;
  }
  if (opts.needs) {
    const common = loadConfigOrExit(CommonConfig);
    if (opts.needs.postgres) await checkPostgres(common);
    if (opts.needs.nats) await checkNats(common);
  }
  // abortOnError off: a failure reaches the caller (runService tells it in one line) instead of aborting the process.
  let app: INestApplication;
  try {
    app = await NestFactory.create(root as never, new BoundedExpressAdapter(), { bufferLogs: true, bodyParser: opts.bodyParser ?? true, abortOnError: false });
  } catch (e) {
    if (e instanceof ConfigError) exitWith(e);
    throw e;
  }
  // Before the transports start (and log that they did).
  if (opts.portVariable) await checkPort(opts.port(app), app.get(CommonConfig).BIND_ADDRESS, opts.portVariable);
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

function exitWith(e: ConfigError): never {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}

function loadConfigOrExit<T extends object>(cls: new () => T): T {
  try {
    return loadConfig(cls, process.env);
  } catch (e) {
    if (e instanceof ConfigError) exitWith(e);
    throw e;
  }
}
