import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSubjects } from '@sluice/contracts';
import { LedgerRepository } from '@sluice/loading';
import { DropAreas } from '@sluice/storage';
import { startPrivateNats, waitFor, wideCsv, type PrivateNatsServer } from '@sluice/testing';
import { register } from 'prom-client';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';

jest.setTimeout(120000);

describe('a processor while JetStream delivers nothing', () => {
  let nats: PrivateNatsServer;
  let t: ProcessorTestApp;
  const lines = 40;
  const readingsPerLine = 7;

  beforeAll(async () => {
    nats = await startPrivateNats();
    t = await startProcessorApp('ledger-fallback', { NATS_URL: nats.url, LEDGER_FALLBACK_AFTER_MS: '1500' });
  });
  afterAll(async () => {
    await nats?.start(); // back if a test stopped it, so the app's shutdown can delete its stream
    await t?.close();
    await nats?.dispose();
  });

  /** What the watcher does when its publish fails: the file in processing/ and a queued ledger row, no message. */
  async function registerUnannounced(name: string, startEpoch: number): Promise<string> {
    const id = randomUUID();
    const storedPath = `processing/${id}__${name}`;
    mkdirSync(join(t.dropzone, 'processing'), { recursive: true });
    writeFileSync(join(t.dropzone, storedPath), wideCsv({ lines, devices: [name], startEpoch }));
    const digest = await t.app.get(DropAreas).sha256AndSize(storedPath);
    await t.app.get(LedgerRepository).register({ id, source: 'dropzone', originalName: name, storedPath, sha256: digest.sha256, sizeBytes: digest.size });
    return id;
  }
  const readingsOf = async (id: string) => (await t.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1', [id]))[0].n;
  const fallbackFiles = async () => (await register.getSingleMetric('sluice_processor_ledger_fallback_files_total')?.get())?.values[0]?.value ?? 0;

  it('leaves queued rows to their messages while JetStream delivers', async () => {
    const id = await registerUnannounced('healthy.csv', 1.7e9);
    // Several times LEDGER_FALLBACK_AFTER_MS with an idle, healthy consumer: the row waits for its message.
    await new Promise((r) => setTimeout(r, 5000));
    expect(await t.statusOf(id)).toBe('queued');
    expect(await fallbackFiles()).toBe(0);
    await t.js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('processed from its message', async () => (await t.statusOf(id)) === 'processed');
  });

  it('loads queued files from the ledger while NATS is down, once each, and a late message changes nothing', async () => {
    await nats.stop();
    const id = await registerUnannounced('outage.csv', 1.71e9);
    await waitFor('processed while NATS is down', async () => (await t.statusOf(id)) === 'processed', 60000, 200);
    expect(await fallbackFiles()).toBe(1);
    expect(await readingsOf(id)).toBe(lines * readingsPerLine);

    // NATS back, and the watcher's publish finally goes out: the row is terminal, nothing is loaded again.
    await nats.start();
    await waitFor('the late message sent', async () => t.js.publish(FileSubjects.queued, { fileId: id }, id).then(() => true, () => false), 60000, 500);
    await waitFor('the late message consumed', async () => {
      const info = await t.js.jsm.consumers.info(t.js.stream, 'processor');
      return info.num_pending + info.num_ack_pending === 0;
    }, 60000, 250);
    expect(await readingsOf(id)).toBe(lines * readingsPerLine);
    expect((await t.query<{ attempts: number; status: string }>('SELECT attempts, status FROM ingest_files WHERE id = $1', [id]))[0]).toEqual({ attempts: 1, status: 'processed' });
  });
});
