import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePort, waitForPort } from './nats-server';
import { WORKSPACE_ROOT } from './stack';

/** s3rver's default account: any other key pair is refused with InvalidAccessKeyId. */
export const S3RVER_KEY = 'S3RVER';

/**
 * A real S3-protocol server (s3rver) on 127.0.0.1, as a process of its own. OpenSSL's legacy provider is on
 * because s3rver encrypts list continuation tokens with DES, which Node's OpenSSL 3 no longer offers by default.
 */
export class S3TestServer {
  private constructor(
    readonly endpoint: string,
    readonly client: S3Client,
    private proc: ChildProcess,
    private readonly dir: string,
    private readonly port: number,
  ) {}

  private static spawn(dir: string, port: number): ChildProcess {
    return spawn(process.execPath, ['--openssl-legacy-provider', join(WORKSPACE_ROOT, 'node_modules/s3rver/bin/s3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'], {
      stdio: 'ignore',
    });
  }

  static async start(): Promise<S3TestServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-s3rver-'));
    const proc = S3TestServer.spawn(dir, port);
    await waitForPort(port);
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new S3TestServer(endpoint, client, proc, dir, port);
  }

  /** Kills the server (SIGKILL: a crash), keeping its directory. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port and directory (after kill()): the same buckets and objects. */
  async restart(): Promise<void> {
    this.proc = S3TestServer.spawn(this.dir, this.port);
    await waitForPort(this.port);
  }

  /** The server's process id (to read its CPU time, for example). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** An S3_SOURCES entry for a bucket of this server. */
  source(bucket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: bucket, endpoint: this.endpoint, bucket, accessKey: S3RVER_KEY, secretKey: S3RVER_KEY, ...extra };
  }

  async createBucket(bucket: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
  }

  async put(bucket: string, key: string, body: string | Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  /** Uploads a folder tree (keys are relative paths), the `last` keys after all the others. */
  async uploadTree(bucket: string, dir: string, last: string[] = []): Promise<string[]> {
    const keys = walk(dir).map((f) => relative(dir, f));
    const ordered = [...keys.filter((k) => !last.includes(k)).sort(), ...last];
    for (const key of ordered) await this.put(bucket, key, readFileSync(join(dir, key)));
    return ordered;
  }

  /** An object's content as text. */
  async text(bucket: string, key: string): Promise<string> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await res.Body?.transformToString()) ?? '';
  }

  async keys(bucket: string): Promise<string[]> {
    const out: string[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: startAfter }));
      out.push(...(res.Contents ?? []).map((o) => o.Key ?? ''));
      if (!res.IsTruncated) return out;
      startAfter = out.at(-1);
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    const keys = await this.keys(bucket);
    for (const Key of keys) await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
  }

  async stop(): Promise<void> {
    this.client.destroy();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
