import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import * as yazl from 'yazl';

/** A zip archive (deflated members, in order) built in memory: test archives are small. */
export async function zipOf(members: ReadonlyArray<{ name: string; content: Buffer }>, opts: { compress?: boolean } = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const m of members) zip.addBuffer(m.content, m.name, { compress: opts.compress ?? true });
  zip.end();
  const parts: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * Writes a gzip of `bytes` bytes of `fill` (zeros unless given) after `head` to `path`: a decompression bomb
 * of any size that takes about a thousandth of it on disk (10 GB → ~10 MB). One 16 MiB block goes through
 * zlib once and its gzip member is written again and again: concatenated members are one gzip file (RFC
 * 1952), so this is made in a moment however large the bomb. `bytes` is rounded up to whole blocks. A CSV
 * header as `head` and newlines as `fill` make a bomb that reads as data (zeros are refused as binary as
 * soon as the head is seen).
 */
export async function writeGzipBomb(path: string, bytes: number, opts: { head?: string; fill?: number } = {}): Promise<void> {
  const block = 16 * 1024 ** 2;
  const member = gzipSync(Buffer.alloc(block, opts.fill ?? 0), { level: 9 });
  async function* members(): AsyncGenerator<Buffer> {
    if (opts.head) yield gzipSync(opts.head);
    for (let left = bytes; left > 0; left -= block) yield member;
  }
  await pipeline(Readable.from(members()), createWriteStream(path));
}
