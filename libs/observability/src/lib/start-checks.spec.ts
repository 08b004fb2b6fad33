import { CommonConfig, loadConfig } from '@sluice/config';
import { createServer, type Server } from 'node:net';
import { checkNats, checkPort, checkPostgres, StartError } from './start-checks';

/** A port nothing listens on: one the system gave a server that has closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('start checks: what a service cannot start without, told in one line', () => {
  it('no PostgreSQL at DATABASE_URL: names the variable, the address (no password) and the fix', async () => {
    const port = await closedPort();
    const config = loadConfig(CommonConfig, { DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/sluice` });
    const e = await checkPostgres(config).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StartError);
    expect((e as Error).message).toBe(
      `no PostgreSQL answers at postgres://postgres:***@127.0.0.1:${port}/sluice (DATABASE_URL): ECONNREFUSED. Start it (npm run services starts a local PostgreSQL and NATS), or set DATABASE_URL`,
    );
  });

  it('no NATS at NATS_URL: names the variable and the fix', async () => {
    const port = await closedPort();
    const e = await checkNats(loadConfig(CommonConfig, { NATS_URL: `nats://127.0.0.1:${port}` })).catch((x: unknown) => x);
    expect((e as Error).message).toBe(`no NATS server answers at nats://127.0.0.1:${port} (NATS_URL): ECONNREFUSED. Start one (npm run services starts a local PostgreSQL and NATS), or set NATS_URL`);
  });

  it('a port in use: names its variable, and a free one passes', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      await expect(checkPort(port, '127.0.0.1', 'PROCESSOR_PORT')).rejects.toThrow(`127.0.0.1:${port} (PROCESSOR_PORT) is in use, by another copy of this service or npm start? Stop it, or set PROCESSOR_PORT to a free port`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    await expect(checkPort(port, '127.0.0.1', 'PROCESSOR_PORT')).resolves.toBeUndefined();
  });
});
