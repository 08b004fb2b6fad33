import type { INestApplication } from '@nestjs/common';
import { bootstrapService, type BootstrapOptions } from '@sluice/observability';
import { deleteNamespaceStream, freePort, SHARED_NATS_URL } from './nats-server';
import { TEST_MIN_FREE_DISK } from './test-settings';

/**
 * How a service's main.ts boots its HTTP API. The feature lib's test harness names it (this lib cannot import
 * feature libs): `{ module: (s) => QueryApiModule.forRoot(s), portVariable: 'QUERY_API_PORT', bootstrap: { openApi } }`.
 */
export interface ServiceApiEntry {
  module(settings: NodeJS.ProcessEnv): unknown;
  /** The variable that sets the port; the harness gives it a free one. */
  portVariable: string;
  bootstrap?: Omit<BootstrapOptions, 'port'>;
}

export interface ServiceApi {
  app: INestApplication;
  port: number;
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Closes the app, then deletes its namespace's stream (a second call does nothing). */
  stop(): Promise<void>;
}

/**
 * A service's HTTP API in this process on a free port. `settings` (DATABASE_URL, NATS_NAMESPACE, keys, limits…)
 * go on top of the shared NATS, silent logs, TEST_MIN_FREE_DISK and a contracts folder of the test's own (beside its
 * drop folder, not the `contracts/` every test's temp drop folder would share).
 */
export async function startServiceApi(entry: ServiceApiEntry, settings: NodeJS.ProcessEnv): Promise<ServiceApi> {
  const port = await freePort();
  const contracts = settings['DROPZONE_DIR'] ? { CONTRACTS_DIR: `${settings['DROPZONE_DIR']}-contracts` } : {};
  const env: NodeJS.ProcessEnv = { NATS_URL: SHARED_NATS_URL, LOG_LEVEL: 'silent', MIN_FREE_DISK: TEST_MIN_FREE_DISK, ...contracts, ...settings, [entry.portVariable]: String(port) };
  // The module built here rather than by a factory: a configuration error throws in the spec instead of exiting.
  const app = await bootstrapService(entry.module(env), { ...entry.bootstrap, port: () => port });
  let stopped = false;
  return {
    app,
    port,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      if (env['NATS_NAMESPACE']) await deleteNamespaceStream(env['NATS_URL'] ?? SHARED_NATS_URL, env['NATS_NAMESPACE']);
    },
  };
}
