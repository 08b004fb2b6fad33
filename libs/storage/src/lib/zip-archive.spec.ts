import { Readable } from 'node:stream';
import { zipOf } from '@sluice/testing';
import { CompressedContentError, type DecompressionLimits } from '@sluice/formats';
import { isArchiveMember, memberStoredPath, ZipArchive } from './zip-archive';

const LIMITS: DecompressionLimits = { maxBytes: 1024 ** 2, maxRatio: 1e6 };
const CSV = Buffer.from('ts,device,temp\n1594512094,a,21.5\n'.repeat(100));

/** Ranged reads of an archive held in memory, counted. */
const rangesOf = (zip: Buffer, seen: Array<[number, number]> = []) => (r: { start: number; end: number }) => {
  seen.push([r.start, r.end]);
  return Readable.from([zip.subarray(r.start, r.end)]);
};

async function text(stream: Readable): Promise<string> {
  let s = '';
  for await (const c of stream) s += String(c);
  return s;
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CompressedContentError);
    return (e as CompressedContentError).reason.rule;
  }
  throw new Error('expected a CompressedContentError');
}

describe(ZipArchive.name, () => {
  it('lists file members in directory order and reads one by its index (one pass per opening) through ranged reads', async () => {
    const zip = await zipOf([
      { name: 'a/one.csv', content: CSV },
      { name: 'a/two.txt', content: Buffer.from('two') },
    ]);
    const seen: Array<[number, number]> = [];
    const sut = await ZipArchive.open(rangesOf(zip, seen), zip.length, 'x.zip', LIMITS);
    const names: string[] = [];
    for await (const m of sut.members()) names.push(`${m.index}:${m.name}:${m.uncompressedSize}`);
    expect(names).toEqual([`0:a/one.csv:${CSV.length}`, '1:a/two.txt:3']);
    sut.close();
    const again = await ZipArchive.open(rangesOf(zip, seen), zip.length, 'x.zip', LIMITS);
    const second = await again.openMember(1);
    expect(await text(second!.stream)).toBe('two');
    again.close();
    const third = await ZipArchive.open(rangesOf(zip, seen), zip.length, 'x.zip', LIMITS);
    expect(await third.openMember(2)).toBeNull();
    third.close();
    expect(seen.every(([s, e]) => s >= 0 && e <= zip.length)).toBe(true);
  });

  it('refuses a member that declares more than MAX_DECOMPRESSED_BYTES before inflating it', async () => {
    const zip = await zipOf([{ name: 'zeros.csv', content: Buffer.alloc(LIMITS.maxBytes + 1) }]);
    const sut = await ZipArchive.open(rangesOf(zip), zip.length, 'big.zip', LIMITS);
    expect(await reasonOf((async () => { for await (const _ of sut.members()) void _; })())).toBe('decompression_limit');
    sut.close();
  });

  it('refuses a corrupt archive as invalid_compression', async () => {
    const zip = (await zipOf([{ name: 'a.csv', content: CSV }])).subarray(0, 60);
    expect(await reasonOf(ZipArchive.open(rangesOf(zip), zip.length, 'cut.zip', LIMITS))).toBe('invalid_compression');
  });

  it('names members by their archive in the ledger', () => {
    expect(memberStoredPath('0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10', 3)).toBe('archive/0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10/3');
    expect(isArchiveMember('archive/x/3')).toBe(true);
    expect(isArchiveMember('processing/x')).toBe(false);
  });
});
