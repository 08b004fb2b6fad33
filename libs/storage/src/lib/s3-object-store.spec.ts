import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isObjectChanged, isTransientS3Error, ObjectChangedError, s3StatusOf } from './s3-object-store';

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
