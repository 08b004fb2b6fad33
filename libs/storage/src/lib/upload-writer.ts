import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fsync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChunkReclaimer, sniffCompression, type Compression } from '@sluice/formats';
import { DropAreas } from './drop-areas';
import { codeOf, writeAll } from './drop-fs.util';
import { StorageException } from './storage.exception';

export interface WrittenFile {
  /** `processing/<fileId>__<name>`. */
  storedPath: string;
  /** Of the content: a gzip file's uncompressed bytes (see contentDigest). */
  sha256: string;
  size: number;
  compression: Compression | null;
}

/** Buffers up to this size are written by `writeProcessing` with direct calls (all but the fsync). */
const SYNC_WRITE_MAX_BYTES = 1024 * 1024;

/** The ingest API's side of the drop folder: new content written straight into processing/. */
@Injectable()
export class UploadWriter extends DropAreas {
  /**
   * Writes new content straight into processing/ as `<fileId>__<name>` (the ingest API): a hidden temp
   * file (O_EXCL|O_NOFOLLOW, ignored by the watcher) is written and hashed chunk by chunk, fsynced, then
   * renamed into place. The directory entry is made durable by `syncArea('processing')`, which callers
   * batch over many writes. Over `maxBytes` the temp file is removed and `too_large` thrown.
   */
  async writeProcessing(fileId: string, name: string, source: Buffer | AsyncIterable<Buffer | string>, maxBytes = Number.MAX_SAFE_INTEGER): Promise<WrittenFile> {
    await this.init();
    this.assertFileId(fileId);
    const dir = this.areaPath('processing');
    const final = this.storedNameFor(fileId, name);
    const tmp = join(dir, `.${fileId.toLowerCase()}.${randomBytes(4).toString('hex')}.tmp`);
    if (Buffer.isBuffer(source) && source.length <= SYNC_WRITE_MAX_BYTES) return this.writeSmall(tmp, join(dir, final), `processing/${final}`, source);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    const hash = createHash('sha256');
    let size = 0;
    let closed = false;
    let head = Buffer.alloc(0);
    const reclaimer = new ChunkReclaimer();
    try {
      const chunks: AsyncIterable<Buffer | string> | Buffer[] = Buffer.isBuffer(source) ? [source] : source;
      for await (const chunk of chunks) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (head.length < 4) head = Buffer.concat([head, buf.subarray(0, 4 - head.length)]);
        size += buf.length;
        if (size > maxBytes) throw new StorageException('too_large', `more than ${maxBytes} bytes`);
        hash.update(buf);
        await writeAll(fh, buf);
        reclaimer.done(buf.length);
      }
      await fh.sync();
      closed = true;
      await fh.close();
      await rename(tmp, join(dir, final));
    } catch (e) {
      if (!closed) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return this.written(`processing/${final}`, head, { sha256: hash.digest('hex'), size });
  }

  /**
   * A small payload in one buffer: open, write, close and rename run on the calling thread (microseconds
   * each); only the fsync goes to the thread pool: one pool round trip per payload instead of five.
   */
  private async writeSmall(tmp: string, final: string, storedPath: string, data: Buffer): Promise<WrittenFile> {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    let closed = false;
    try {
      for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
      await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
      closed = true;
      closeSync(fd);
      renameSync(tmp, final);
    } catch (e) {
      if (!closed) closeSync(fd);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return this.written(storedPath, data.subarray(0, 4), { sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
  }

  /** What writeProcessing returns: the bytes' own hash, or for a gzip file that of its content (read again). */
  private async written(storedPath: string, head: Buffer, digest: Omit<WrittenFile, 'compression' | 'storedPath'>): Promise<WrittenFile> {
    const compression = sniffCompression(head);
    if (compression === 'gzip') return { storedPath, ...(await this.sha256AndSize(storedPath)) };
    return { storedPath, ...digest, compression };
  }

  /** Removes a file this process wrote to processing/ and never registered (e.g. a lost idempotency race). */
  async discardProcessing(storedPath: string): Promise<void> {
    const abs = this.storedAbs(storedPath, ['processing']);
    await this.assertRealDir(dirname(abs));
    await unlink(abs).catch((e: unknown) => {
      if (codeOf(e) !== 'ENOENT') throw e;
    });
  }
}
