import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { CompressedContentError, contentDigest, decompressed, sniffCompression, type DecompressionLimits } from './compression.util';

const LIMITS: DecompressionLimits = { maxBytes: 1024 ** 3, maxRatio: 200 };
const CSV = Buffer.from('ts,device,temp\n1594512094,b8:27:eb:bf:9d:51,21.5\n'.repeat(50));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** `mb` MiB of zeros gzipped as they are made: a bomb of any size, tiny on disk. */
function zerosGzip(mb: number): Readable {
  const zeros = Buffer.alloc(1024 ** 2);
  return Readable.from(
    (async function* () {
      for (let i = 0; i < mb; i++) yield zeros;
    })(),
  ).pipe(createGzip({ level: 9 }));
}

async function reasonOf(p: Promise<unknown>): Promise<{ rule: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CompressedContentError);
    return (e as CompressedContentError).reason;
  }
  throw new Error('expected a CompressedContentError');
}

describe('compression', () => {
  it('knows gzip and zip by their magic bytes, not their names', () => {
    expect(sniffCompression(gzipSync(CSV))).toBe('gzip');
    expect(sniffCompression(Buffer.from('PK\x03\x04rest', 'latin1'))).toBe('zip');
    expect(sniffCompression(Buffer.from('PK\x05\x06', 'latin1'))).toBe('zip');
    expect(sniffCompression(CSV)).toBeNull();
    expect(sniffCompression(Buffer.from([0x1f]))).toBeNull();
  });

  describe(contentDigest.name, () => {
    it('gives a gzip file the identity of its uncompressed content', async () => {
      const d = await contentDigest(Readable.from([gzipSync(CSV)]), LIMITS);
      expect(d).toEqual({ sha256: sha(CSV), size: CSV.length, compression: 'gzip' });
      expect(await contentDigest(Readable.from([CSV]), LIMITS)).toEqual({ sha256: sha(CSV), size: CSV.length, compression: null });
    });

    it('keeps the compressed bytes as the identity of a gzip file over a limit', async () => {
      const bomb = await readAll(zerosGzip(8));
      const d = await contentDigest(Readable.from([bomb]), { maxBytes: 1024 ** 2, maxRatio: 1e9 });
      expect(d).toEqual({ sha256: sha(bomb), size: bomb.length, compression: 'gzip' });
    });

    it('hashes a zip archive as its own bytes', async () => {
      const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), CSV]);
      expect(await contentDigest(Readable.from([zip]), LIMITS)).toEqual({ sha256: sha(zip), size: zip.length, compression: 'zip' });
    });
  });

  describe(decompressed.name, () => {
    it('streams a gzip file as its content and plain bytes as they are', async () => {
      expect(await readAll(decompressed(Readable.from([gzipSync(CSV)]), LIMITS, { name: 'a.csv.gz' }))).toEqual(CSV);
      expect(await readAll(decompressed(Readable.from([CSV.subarray(0, 2), CSV.subarray(2)]), LIMITS, { name: 'a.csv' }))).toEqual(CSV);
      expect(await readAll(decompressed(Readable.from([]), LIMITS, { name: 'empty' }))).toEqual(Buffer.alloc(0));
    });

    it('refuses a bomb mid-stream once MAX_DECOMPRESSED_BYTES is crossed', async () => {
      let read = 0;
      const stream = decompressed(zerosGzip(10 * 1024), { maxBytes: 4 * 1024 ** 2, maxRatio: 1e9 }, { name: 'bomb.gz' });
      const reason = await reasonOf(
        (async () => {
          for await (const c of stream) read += (c as Buffer).length;
        })(),
      );
      expect(reason.rule).toBe('decompression_limit');
      expect(reason.message).toContain('MAX_DECOMPRESSED_BYTES');
      expect(read).toBeLessThanOrEqual(4 * 1024 ** 2);
    });

    it('refuses a content that outgrows its compressed bytes past MAX_COMPRESSION_RATIO', async () => {
      const reason = await reasonOf(readAll(decompressed(zerosGzip(64), { maxBytes: 1024 ** 3, maxRatio: 100 }, { name: 'zeros.gz' })));
      expect(reason).toEqual({ rule: 'decompression_limit', message: expect.stringContaining('MAX_COMPRESSION_RATIO') });
    });

    it('refuses an archive inside an archive, and a truncated gzip', async () => {
      expect((await reasonOf(readAll(decompressed(Readable.from([gzipSync(gzipSync(CSV))]), LIMITS, { name: 'twice.gz' })))).rule).toBe('nested_archive');
      expect((await reasonOf(readAll(decompressed(Readable.from([gzipSync(CSV)]), LIMITS, { name: 'member.csv.gz', nested: true })))).rule).toBe('nested_archive');
      const cut = gzipSync(CSV).subarray(0, 40);
      expect((await reasonOf(readAll(decompressed(Readable.from([cut]), LIMITS, { name: 'cut.gz' })))).rule).toBe('invalid_compression');
    });
  });
});
