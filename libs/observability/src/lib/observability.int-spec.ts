import 'reflect-metadata';
import { Injectable, Module, type INestApplication, type OnModuleInit } from '@nestjs/common';
import { CommonConfig, ConfigModule } from '@sluice/config';
import type { AddressInfo } from 'node:net';
import { bootstrapService } from './bootstrap';
import { ObservabilityModule } from './observability.module';
import { ReadinessRegistry } from './readiness.registry';

let databaseUp = true;
let brokerUp = true;

@Injectable()
class FakeDependency implements OnModuleInit {
  constructor(private readonly readiness: ReadinessRegistry) {}
  onModuleInit(): void {
    this.readiness.register('database', async () => {
      if (!databaseUp) throw new Error('connection refused');
    });
    this.readiness.register(
      'broker',
      async () => {
        if (!brokerUp) throw new Error('disconnected');
      },
      { required: false },
    );
  }
}

async function start(env: NodeJS.ProcessEnv = {}): Promise<INestApplication> {
  @Module({ imports: [ConfigModule.forRoot(CommonConfig, { LOG_LEVEL: 'silent', ...env }), ObservabilityModule.forRoot('spec')], providers: [FakeDependency] })
  class SpecModule {}
  return bootstrapService(SpecModule, { port: () => 0, openApi: { title: 'spec', description: 'spec' } });
}
const addressOf = (app: INestApplication) => app.getHttpServer().address() as AddressInfo;

describe(ObservabilityModule.name, () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    app = await start();
    base = `http://127.0.0.1:${addressOf(app).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('listens on loopback only unless BIND_ADDRESS says otherwise', async () => {
    expect(addressOf(app).address).toBe('127.0.0.1');
    const everywhere = await start({ BIND_ADDRESS: '0.0.0.0' });
    try {
      expect(addressOf(everywhere).address).toBe('0.0.0.0');
    } finally {
      await everywhere.close();
    }
  });

  it('with METRICS_API_KEYS, /metrics wants one of them (Bearer or x-api-key) and answers 401 in the error format without', async () => {
    const guarded = await start({ METRICS_API_KEYS: 'scrape-1,scrape-2' });
    const url = `http://127.0.0.1:${addressOf(guarded).port}/metrics`;
    try {
      for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'scrape-3' }, { authorization: 'Basic c2NyYXBlLTE=' }] as Record<string, string>[]) {
        const res = await fetch(url, { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('METRICS_API_KEYS'), details: null } });
      }
      for (const headers of [{ authorization: 'Bearer scrape-2' }, { 'x-api-key': 'scrape-1' }] as Record<string, string>[]) {
        const res = await fetch(url, { headers });
        expect(res.status).toBe(200);
        expect(await res.text()).toMatch(/process_cpu_seconds_total\{service="spec"\}/);
      }
      expect((await fetch(`http://127.0.0.1:${addressOf(guarded).port}/health/live`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('answers liveness and readiness, and reports a dependency that is down with 503 and its reason', async () => {
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const up = await fetch(`${base}/health/ready`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    databaseUp = false;
    const down = await fetch(`${base}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'error', error: { database: { status: 'down', message: 'connection refused' } } });
    databaseUp = true;
  });

  it('stays ready when a dependency that is not required is down, and reports it degraded', async () => {
    brokerUp = false;
    const degraded = await fetch(`${base}/health/ready`);
    expect(degraded.status).toBe(200);
    expect(await degraded.json()).toMatchObject({ status: 'ok', info: { database: { status: 'up' }, broker: { status: 'up', degraded: true, message: 'disconnected' } } });
    brokerUp = true;
    expect(await (await fetch(`${base}/health/ready`)).json()).toMatchObject({ info: { broker: { status: 'up' } } });
    expect(((await (await fetch(`${base}/health/ready`)).json()) as { info: { broker: object } }).info.broker).not.toHaveProperty('degraded');
  });

  it('serves Prometheus metrics labelled with the service', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toMatch(/process_cpu_seconds_total\{service="spec"\}/);
  });

  it('serves the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/docs-json`)).json()) as { openapi: string; info: { title: string } };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('spec');
  });
});
