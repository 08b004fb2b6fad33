import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CommonConfig, ConfigModule, loadConfig } from '@sluice/config';
import { FileQueuedMessage, FileSubjects, type FileSubject } from '@sluice/contracts';
import { bootstrapService, ObservabilityModule } from '@sluice/observability';
import { startNatsCluster, testNamespace, waitFor, type NatsCluster } from '@sluice/testing';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { JetStreamService } from './jetstream.service';
import { MessagingModule } from './messaging.module';
import { JetStreamController } from './transport/jetstream.decorators';
import { AttemptPolicy } from './transport/attempt-policy';
import { JetStreamServer } from './transport/jetstream.server';

jest.setTimeout(120000);

const handled: string[] = [];

@JetStreamController()
class Handlers {
  @EventPattern<FileSubject>(FileSubjects.queued)
  async queued(@Payload() m: FileQueuedMessage): Promise<void> {
    handled.push(m.fileId);
  }
}

describe('a service started while JetStream has no leader', () => {
  let cluster: NatsCluster;
  let app: INestApplication | undefined;
  let publisher: JetStreamService | undefined;
  const env = () => ({ NATS_URL: cluster.url, NATS_NAMESPACE: namespace, NATS_STREAM_REPLICAS: '3', LOG_LEVEL: 'silent' });
  const namespace = testNamespace('leaderless');

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    await app?.close();
    await publisher?.onApplicationShutdown();
    await cluster?.dispose();
  });

  it('runs not ready (live, /health/ready 503 naming JetStream), then becomes ready and consumes once a leader exists', async () => {
    // Two nodes of three gone: no quorum, so no JetStream leader.
    await Promise.all([cluster.nodes[1].stop(true), cluster.nodes[2].stop(true)]);

    @Module({ imports: [ConfigModule.forRoot(CommonConfig, env()), ObservabilityModule.forRoot('leaderless-spec'), MessagingModule.forRoot('leaderless-spec')], controllers: [Handlers] })
    class ServiceModule {}
    // As a consuming service's main.ts starts it.
    app = await bootstrapService(ServiceModule, { port: () => 0, configure: (a) => a.connectMicroservice({ strategy: new JetStreamServer(a.get(JetStreamService), { subjects: [FileSubjects.queued], durable: 'work', concurrency: 1, ackWaitMs: 5000, attempts: new AttemptPolicy(3) }) }) });
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const notReady = await fetch(`${base}/health/ready`);
    expect(notReady.status).toBe(503);
    const body = (await notReady.json()) as { error: { nats?: { status: string; message: string } } };
    expect(body.error.nats?.status).toBe('down');
    expect(body.error.nats?.message).toMatch(/JetStream/);

    await Promise.all([cluster.nodes[1].start(), cluster.nodes[2].start()]);
    await waitFor('the service ready', async () => (await fetch(`${base}/health/ready`)).status === 200, 90000, 250);

    publisher = new JetStreamService(loadConfig(CommonConfig, env()));
    await publisher.connect('leaderless-spec-publisher');
    const fileId = randomUUID();
    // The stream was just made: a node may not know of it yet and answer "no responders". The publish is then
    // sent again by the publisher itself, as every failed publish is.
    await publisher.publish(FileSubjects.queued, { fileId } satisfies Partial<FileQueuedMessage>, fileId).catch(() => undefined);
    await waitFor('the message handled', async () => handled.includes(fileId), 60000, 100);
  });
});
