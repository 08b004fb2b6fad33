import 'reflect-metadata';
import { CommonConfig, loadConfig } from '@sluice/config';
import { FileQueuedMessage, FileSubjects } from '@sluice/contracts';
import { startNatsCluster, testNamespace, waitFor, type NatsCluster } from '@sluice/testing';
import { randomUUID } from 'node:crypto';
import { JetStreamService } from './jetstream.service';

describe(`${JetStreamService.name} on a three-node NATS cluster`, () => {
  let cluster: NatsCluster;
  let js: JetStreamService;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    js = new JetStreamService(loadConfig(CommonConfig, { NATS_URL: cluster.url, NATS_NAMESPACE: testNamespace('r3'), NATS_STREAM_REPLICAS: '3' }));
    await js.connect('jetstream-r3-spec');
  });
  afterAll(async () => {
    await js?.onApplicationShutdown();
    await cluster?.dispose();
  });

  it('keeps the stream at NATS_STREAM_REPLICAS copies, so a message survives the loss of a node', async () => {
    const info = await js.jsm.streams.info(js.stream);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas).toHaveLength(2);

    const fileId = randomUUID();
    await js.publish(FileSubjects.queued, { fileId } satisfies Partial<FileQueuedMessage>, fileId);
    // The stream's leader goes away: another node holds every message and takes over.
    const leader = cluster.nodes.findIndex((_, i) => info.cluster?.leader?.endsWith(`-${i}`));
    await cluster.nodes[Math.max(0, leader)].stop(true);
    const after = await waitFor('a new stream leader', async () => {
      const i = await js.jsm.streams.info(js.stream).catch(() => null);
      return i?.cluster?.leader && i.state.messages > 0 ? i : null;
    }, 60000, 250);
    expect(after.state.messages).toBe(1);
  });

  it('sends a publish that failed while NATS was down again by itself, once JetStream takes it', async () => {
    await Promise.all(cluster.nodes.map((n) => n.stop(false)));
    const fileId = randomUUID();
    await expect(js.publish(FileSubjects.queued, { fileId } satisfies Partial<FileQueuedMessage>, fileId)).rejects.toThrow();
    expect(js.unsentCount).toBe(1);

    await Promise.all(cluster.nodes.map((n) => n.start()));
    const stored = await waitFor('the failed publish in the stream', async () => {
      const m = await js.jsm.streams.getMessage(js.stream, { last_by_subj: js.subject(FileSubjects.queued) }).catch(() => null);
      return m?.json<FileQueuedMessage>().fileId === fileId ? m : null;
    }, 90000, 250);
    expect(stored.header?.get('Nats-Msg-Id')).toBe(fileId);
    expect(js.unsentCount).toBe(0);
  }, 120000);
});
