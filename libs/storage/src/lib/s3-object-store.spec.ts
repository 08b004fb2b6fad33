import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Source } from '@sluice/config';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describeS3Error, isObjectChanged, isTransientS3Error, ObjectChangedError, S3ObjectStore, s3StatusOf } from './s3-object-store';

const ROOT = join(__dirname, '../../../..');

/** An error shaped as the SDK throws them for a service answer. */
const serviceError = (name: string, status: number) => Object.assign(new Error(name), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });

describe('S3 error classification', () => {
  it('retries the network, throttling and server errors, not refusals, missing objects or changed versions', () => {
    expect(isTransientS3Error(serviceError('InternalError', 500))).toBe(true);
    expect(isTransientS3Error(serviceError('SlowDown', 503))).toBe(true);
    expect(isTransientS3Error(serviceError('TooManyRequests', 429))).toBe(true);
    expect(isTransientS3Error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientS3Error(serviceError('NoSuchKey', 404))).toBe(false);
    expect(isTransientS3Error(serviceError('InvalidAccessKeyId', 403))).toBe(false);
    expect(isTransientS3Error(serviceError('PreconditionFailed', 412))).toBe(false);
    expect(isTransientS3Error(new ObjectChangedError('k', '"a"', '"b"'))).toBe(false);
  });

  it('tells a changed version from other errors', () => {
    expect(isObjectChanged(serviceError('PreconditionFailed', 412))).toBe(true);
    expect(isObjectChanged(new ObjectChangedError('k', '"a"', '"b"'))).toBe(true);
    expect(isObjectChanged(serviceError('NoSuchKey', 404))).toBe(false);
    expect(s3StatusOf(new Error('plain'))).toBeUndefined();
  });
});

describe(describeS3Error.name, () => {
  const source: S3Source = { name: 'sensors', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'sensor-data', prefix: '', pathStyle: true, afterLoad: 'keep' };
  const where = 'source "sensors" (bucket "sensor-data" at http://127.0.0.1:9000)';

  it('says in one sentence which source fails and why: bucket, credentials or endpoint', () => {
    expect(describeS3Error(source, serviceError('NoSuchBucket', 404))).toBe(`${where}: the bucket does not exist`);
    expect(describeS3Error(source, serviceError('NotFound', 404))).toBe(`${where}: the bucket does not exist`);
    expect(describeS3Error(source, serviceError('InvalidAccessKeyId', 403))).toBe(`${where}: the credentials were refused (InvalidAccessKeyId)`);
    expect(describeS3Error(source, serviceError('SignatureDoesNotMatch', 403))).toBe(`${where}: the credentials were refused (SignatureDoesNotMatch)`);
    expect(describeS3Error(source, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' }))).toBe(`${where}: cannot reach the endpoint (ECONNREFUSED)`);
    expect(describeS3Error({ ...source, endpoint: undefined }, serviceError('NoSuchBucket', 404))).toBe('source "sensors" (bucket "sensor-data" at AWS S3): the bucket does not exist');
  });
});

describe('AWS SDK loading', () => {
  it('is loaded by the first object store, not by importing the storage lib', () => {
    const script = `
      require(${JSON.stringify(join(ROOT, 'tools/scripts/register.cjs'))});
      const storage = require(${JSON.stringify(join(ROOT, 'libs/storage/src/index.ts'))});
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('@aws-sdk/client-s3'));
      const before = loaded();
      new storage.ObjectStores([{ name: 'a', region: 'us-east-1', bucket: 'abc', prefix: '', pathStyle: true, afterLoad: 'keep' }]);
      process.stdout.write(JSON.stringify([before, loaded()]));`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(JSON.parse(out)).toEqual([false, true]);
  });
});

const SOURCE: S3Source = { name: 'src', region: 'us-east-1', bucket: 'bucket', prefix: '', pathStyle: true, afterLoad: 'keep' };
const CONTENT = Buffer.from('sensor_uuid;sensor_name\n00000000-0000-4000-8000-000000000001;a\n');
const ETAG = '"v1"';

interface GetInput {
  Key: string;
  IfMatch?: string;
  Range?: string;
}
/** One answer of the fake server: a body (bytes, then maybe a broken connection) or an error. */
type Answer = { etag?: string; chunks: Buffer[]; breakWith?: Error } | Error;

/** A fake S3 client that answers GetObject from a script and records each request. */
function fakeClient(answers: Answer[]): { client: S3Client; requests: GetInput[] } {
  const requests: GetInput[] = [];
  const send = (command: { input: GetInput }) => {
    requests.push(command.input);
    const answer = answers.shift();
    if (!answer) return Promise.reject(new Error('unexpected request'));
    if (answer instanceof Error) return Promise.reject(answer);
    const body = Readable.from(
      (async function* () {
        yield* answer.chunks;
        if (answer.breakWith) throw answer.breakWith;
      })(),
    );
    return Promise.resolve({ ETag: answer.etag ?? ETAG, Body: body });
  };
  return { client: { send, destroy: () => undefined } as unknown as S3Client, requests };
}

const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe(`${S3ObjectStore.name}.openRead`, () => {
  it('resumes a body cut mid-way from the byte where it stopped, pinned to the claimed ETag', async () => {
    const { client, requests } = fakeClient([
      { chunks: [CONTENT.subarray(0, 10)], breakWith: reset() },
      serviceError('ServiceUnavailable', 503),
      { chunks: [CONTENT.subarray(10, 30)], breakWith: reset() },
      { chunks: [CONTENT.subarray(30)] },
    ]);
    const sut = new S3ObjectStore(SOURCE, client);
    expect(await buffer(sut.openRead('mapping.csv', ETAG))).toEqual(CONTENT);
    expect(requests).toEqual([
      { Bucket: 'bucket', Key: 'mapping.csv', IfMatch: ETAG, Range: undefined },
      { Bucket: 'bucket', Key: 'mapping.csv', IfMatch: ETAG, Range: 'bytes=10-' },
      { Bucket: 'bucket', Key: 'mapping.csv', IfMatch: ETAG, Range: 'bytes=10-' },
      { Bucket: 'bucket', Key: 'mapping.csv', IfMatch: ETAG, Range: 'bytes=30-' },
    ]);
  });

  it('does not retry a refusal or a missing object', async () => {
    for (const refusal of [serviceError('AccessDenied', 403), serviceError('NoSuchKey', 404)]) {
      const { client, requests } = fakeClient([refusal]);
      await expect(buffer(new S3ObjectStore(SOURCE, client).openRead('k.csv', ETAG))).rejects.toBe(refusal);
      expect(requests).toHaveLength(1);
    }
  });

  it('fails as a changed object when the server sends another version than the claimed one', async () => {
    const { client, requests } = fakeClient([{ etag: '"v2"', chunks: [CONTENT] }]);
    const read = buffer(new S3ObjectStore(SOURCE, client).openRead('k.csv', ETAG));
    await expect(read).rejects.toBeInstanceOf(ObjectChangedError);
    expect(requests).toHaveLength(1);
  });

  it('hashes what it streams', async () => {
    const { client } = fakeClient([{ chunks: [CONTENT.subarray(0, 7)], breakWith: reset() }, { chunks: [CONTENT.subarray(7)] }]);
    const digest = await new S3ObjectStore(SOURCE, client).sha256AndSize('k.csv', ETAG);
    expect(digest).toEqual({ sha256: createHash('sha256').update(CONTENT).digest('hex'), size: CONTENT.length, compression: null });
  });
});
