import 'reflect-metadata';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { FileSubjects } from '@sluice/contracts';
import { LedgerRepository } from '@sluice/loading';
import { objectDisplayName, objectStoredPath, ObjectStores } from '@sluice/storage';
import { freePort, S3MidReadRelay, S3TestServer, waitFor, zipOf } from '@sluice/testing';
import { gzipSync } from 'node:zlib';
import { createHash, randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';

jest.setTimeout(120000);

const BUCKET = 'stream-test';
const UUID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

/** A long CSV of `rows` readings of one sensor, a minute apart. */
function longCsv(rows: number, startMs: number, uuid = UUID): string {
  const lines = [';timestamp;sensor_uuid;sensor_value'];
  for (let i = 0; i < rows; i++) lines.push(`${i};${new Date(startMs + i * 60000).toISOString()};${uuid};${(i % 1000) / 10}`);
  return lines.join('\n') + '\n';
}

/**
 * A TCP relay to the S3 server that cuts connections once they have carried `cutAfter` bytes of response,
 * `cuts` times in all: a connection dropped in the middle of an object's body.
 */
class CuttingRelay {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly state: { cutsLeft: number; sockets: Set<Socket> },
  ) {}

  static async start(target: number, cutAfter: number, cuts: number): Promise<CuttingRelay> {
    const port = await freePort();
    const state = { cutsLeft: cuts, sockets: new Set<Socket>() };
    const server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      state.sockets.add(client).add(upstream);
      let carried = 0;
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        carried += chunk.length;
        if (state.cutsLeft > 0 && carried > cutAfter) {
          state.cutsLeft--;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(chunk);
      });
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new CuttingRelay(server, port, state);
  }

  get cutsDone(): boolean {
    return this.state.cutsLeft === 0;
  }

  async stop(): Promise<void> {
    for (const s of this.state.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('processor reading S3 objects (real PostgreSQL, NATS and s3rver)', () => {
  let s3: S3TestServer;
  let relay: CuttingRelay;
  let midRead: S3MidReadRelay;
  let t: ProcessorTestApp;

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    await s3.createBucket(BUCKET);
    relay = await CuttingRelay.start(Number(new URL(s3.endpoint).port), 512 * 1024, 1);
    const direct = s3.source(BUCKET, { name: 'direct' });
    const flaky = s3.source(BUCKET, { name: 'flaky', endpoint: `http://127.0.0.1:${relay.port}` });
    midRead = await S3MidReadRelay.start(s3.endpoint);
    const gated = s3.source(BUCKET, { name: 'gated', endpoint: midRead.endpoint });
    t = await startProcessorApp('processor_s3', { S3_SOURCES: JSON.stringify([direct, flaky, gated]) });
  });

  afterAll(async () => {
    await t?.close();
    await relay?.stop();
    await midRead?.stop();
    await s3?.stop();
  });

  /** What the watcher does after listing: a ledger row naming the object version, and a queued message. */
  async function enqueue(source: string, key: string, body: string, put = true): Promise<{ id: string; etag: string }> {
    if (put) await s3.put(BUCKET, key, body);
    const etag = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';
    const id = randomUUID();
    const sha256 = createHash('sha256').update(body).digest('hex');
    await t.app.get(LedgerRepository).register({ id, source: 's3', originalName: objectDisplayName({ bucket: BUCKET, key }), storedPath: objectStoredPath({ source, bucket: BUCKET, key, etag }), sha256, sizeBytes: Buffer.byteLength(body) });
    await t.js.publish(FileSubjects.queued, { fileId: id }, id);
    return { id, etag };
  }

  const row = async (id: string) => (await t.query<{ status: string; rows_written: string; error: { rule: string } | null }>(`SELECT status, rows_written, error FROM ingest_files WHERE id = $1`, [id]))[0];
  const terminal = (id: string) => waitFor(`${id} terminal`, async () => {
    const r = await row(id);
    return r && ['processed', 'quarantined', 'failed'].includes(r.status) ? r : null;
  }, 60000);

  it('streams an object from its store and loads it', async () => {
    const { id } = await enqueue('direct', 'timeseries/part-0000.csv', longCsv(5000, Date.UTC(2020, 0, 1)));
    expect(await terminal(id)).toMatchObject({ status: 'processed', rows_written: '5000' });
  });

  it('resumes a read whose connection drops in the middle of the body, losing and doubling nothing', async () => {
    const body = longCsv(40000, Date.UTC(2021, 0, 1));
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
    const { id } = await enqueue('flaky', 'timeseries/big.csv', body);
    expect(await terminal(id)).toMatchObject({ status: 'processed', rows_written: '40000' });
    expect(relay.cutsDone).toBe(true);
    const [{ n }] = await t.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data WHERE file_id = $1`, [id]);
    expect(n).toBe('40000');
  });

  it('loads a gzip object as its content and unpacks a zip object into members read by ranged GETs', async () => {
    /** As the watcher claims an object: hashed by its content, with its packing. */
    const claim = async (key: string, body: Buffer) => {
      await s3.put(BUCKET, key, body);
      const etag = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';
      const digest = await t.app.get(ObjectStores).get('direct')!.sha256AndSize(key, etag);
      const id = randomUUID();
      await t.app.get(LedgerRepository).register({ id, source: 's3', originalName: objectDisplayName({ bucket: BUCKET, key }), storedPath: objectStoredPath({ source: 'direct', bucket: BUCKET, key, etag }), sha256: digest.sha256, sizeBytes: digest.size, compression: digest.compression });
      await t.js.publish(FileSubjects.queued, { fileId: id }, id);
      return id;
    };
    const gz = await claim('timeseries/part-0001.csv.gz', gzipSync(longCsv(3000, Date.UTC(2023, 0, 1))));
    expect(await terminal(gz)).toMatchObject({ status: 'processed', rows_written: '3000' });
    const zip = await claim(
      'timeseries/parts.zip',
      await zipOf([
        { name: 'a.csv', content: Buffer.from(longCsv(1000, Date.UTC(2024, 0, 1))) },
        { name: 'b.csv', content: Buffer.from(longCsv(2000, Date.UTC(2024, 6, 1))) },
      ]),
    );
    expect(await terminal(zip)).toMatchObject({ status: 'processed' });
    const members = await waitFor('members processed', async () => {
      const rows = await t.query<{ status: string; rows_written: string }>(`SELECT status, rows_written FROM ingest_files WHERE archive_id = $1 ORDER BY member_index`, [zip]);
      return rows.length === 2 && rows.every((r) => r.status === 'processed') ? rows : null;
    }, 60000);
    expect(members.map((m) => m.rows_written)).toEqual(['1000', '2000']);
  });

  it('quarantines a version overwritten after its claim as object_changed', async () => {
    const key = 'timeseries/overwritten.csv';
    await s3.put(BUCKET, key, longCsv(10, Date.UTC(2022, 0, 1)));
    const old = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';
    await s3.put(BUCKET, key, longCsv(20, Date.UTC(2022, 0, 1)));
    const id = randomUUID();
    await t.app.get(LedgerRepository).register({ id, source: 's3', originalName: objectDisplayName({ bucket: BUCKET, key }), storedPath: objectStoredPath({ source: 'direct', bucket: BUCKET, key, etag: old }), sha256: 'a'.repeat(64), sizeBytes: 10 });
    await t.js.publish(FileSubjects.queued, { fileId: id }, id);
    expect(await terminal(id)).toMatchObject({ status: 'quarantined', error: { rule: 'object_changed' } });
  });

  it('quarantines an object overwritten during the GET as object_changed, keeping nothing of either version, and loads the new version on its own', async () => {
    const key = 'timeseries/rewritten-mid-read.csv';
    const uuid = '0b7e2c1a-5d3f-4e6a-9b8c-7d6e5f4a3b2c';
    // Same size, other readings: larger than every buffer between the server's file and the reader, so the
    // bytes after the hold are read from the file the overwrite rewrote.
    const first = longCsv(120000, Date.UTC(2018, 0, 1), uuid);
    const second = longCsv(120000, Date.UTC(2019, 0, 1), uuid);
    expect(Buffer.byteLength(second)).toBe(Buffer.byteLength(first));
    await s3.put(BUCKET, key, first);
    // The processor's second GET of the key is the load (the first reads the head to route the file); after
    // its first 256 KiB the second version is put under the key through the server itself.
    const overwritten = midRead.midRead(BUCKET, key, () => s3.put(BUCKET, key, second), { nth: 2, afterBytes: 256 * 1024 });
    const { id, etag } = await enqueue('gated', key, first, false);
    await overwritten;
    expect(await terminal(id)).toMatchObject({ status: 'quarantined', rows_written: '0', error: { rule: 'object_changed' } });
    // Nothing of either version: no readings (of this file or of its sensor), no aggregates, no row errors. The
    // sensor's registry row may stay (sensors are registered outside the load's transaction, ids never change).
    const left = await t.query<{ raw: string; errors: string; sensorReadings: string; aggregates: string }>(
      `SELECT (SELECT count(*) FROM raw_sensor_data WHERE file_id = $1) AS raw, (SELECT count(*) FROM ingest_errors WHERE file_id = $1) AS errors,
              (SELECT count(*) FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.uuid = $2) AS "sensorReadings",
              (SELECT count(*) FROM aggregated_metrics a JOIN sensors s ON s.id = a.sensor_id WHERE s.uuid = $2) AS aggregates`,
      [id, uuid],
    );
    expect(left).toEqual([{ raw: '0', errors: '0', sensorReadings: '0', aggregates: '0' }]);

    // The watcher's next listing claims the version now under the key (a new ETag) as a file of its own.
    const next = await enqueue('direct', key, second, false);
    expect(next.etag).not.toBe(etag);
    expect(await terminal(next.id)).toMatchObject({ status: 'processed', rows_written: '120000' });
    const [span] = await t.query<{ n: string; first: Date }>(`SELECT count(*) AS n, min(ts) AS first FROM raw_sensor_data WHERE file_id = $1`, [next.id]);
    expect(span).toEqual({ n: '120000', first: new Date(Date.UTC(2019, 0, 1)) });
  });

  it('refuses a zip object overwritten while it is unpacked as object_changed, registering none of its members', async () => {
    const key = 'timeseries/rewritten-mid-read.zip';
    const uuid = '1c8f3d2b-6e4a-4f7b-8c9d-8e7f6a5b4c3d';
    // Stored, not deflated: larger than the buffers between the server's file and the reader.
    const zipped = (year: number) => zipOf([{ name: 'part.csv', content: Buffer.from(longCsv(120000, Date.UTC(year, 0, 1), uuid)) }], { compress: false });
    const [first, second] = [await zipped(2016), await zipped(2017)];
    expect(second.length).toBe(first.length);
    await s3.put(BUCKET, key, first);
    const overwritten = midRead.midRead(BUCKET, key, () => s3.put(BUCKET, key, second), { afterBytes: 256 * 1024 });
    const etag = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';
    const id = randomUUID();
    const sha256 = createHash('sha256').update(first).digest('hex');
    await t.app.get(LedgerRepository).register({ id, source: 's3', originalName: objectDisplayName({ bucket: BUCKET, key }), storedPath: objectStoredPath({ source: 'gated', bucket: BUCKET, key, etag }), sha256, sizeBytes: first.length, compression: 'zip' });
    await t.js.publish(FileSubjects.queued, { fileId: id }, id);
    await overwritten;
    expect(await terminal(id)).toMatchObject({ status: 'quarantined', error: { rule: 'object_changed' } });
    expect(await t.query(`SELECT id FROM ingest_files WHERE archive_id = $1`, [id])).toEqual([]);
  });

  it('quarantines a version deleted from its bucket after its claim as object_deleted, not failed after retries', async () => {
    const key = 'timeseries/deleted.csv';
    const { id } = await (async () => {
      await s3.put(BUCKET, key, longCsv(10, Date.UTC(2022, 5, 1)));
      const etag = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';
      await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      const fileId = randomUUID();
      await t.app.get(LedgerRepository).register({ id: fileId, source: 's3', originalName: objectDisplayName({ bucket: BUCKET, key }), storedPath: objectStoredPath({ source: 'direct', bucket: BUCKET, key, etag }), sha256: 'b'.repeat(64), sizeBytes: 10 });
      await t.js.publish(FileSubjects.queued, { fileId }, fileId);
      return { id: fileId };
    })();
    expect(await terminal(id)).toMatchObject({ status: 'quarantined', error: { rule: 'object_deleted' } });
    expect((await t.query<{ attempts: number }>(`SELECT attempts FROM ingest_files WHERE id = $1`, [id]))[0].attempts).toBe(1);
  });
});
