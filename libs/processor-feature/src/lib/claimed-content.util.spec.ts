import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ClaimedContent } from './claimed-content.util';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const readAll = async (r: Readable) => {
  let out = '';
  for await (const c of r) out += (c as Buffer).toString();
  return out;
};

describe(ClaimedContent.name, () => {
  const claimed = 'a,b\n1,2\n';
  const claim = { sha256: sha(claimed), size: claimed.length };
  const stat = { size: claimed.length, mtimeMs: 1000 };

  it('passes the bytes through unchanged and finds nothing when they are the claimed ones', async () => {
    const sut = new ClaimedContent(claim, stat);
    expect(await readAll(sut.tap(Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')])))).toBe(claimed);
    expect(sut.verify(stat)).toBeNull();
  });

  it('reports bytes read that differ from the claim, even with the same size', async () => {
    const sut = new ClaimedContent(claim, stat);
    await readAll(sut.tap(Readable.from([Buffer.from('a,b\n9,9\n')])));
    expect(sut.verify(stat)).toMatchObject({ rule: 'changed_after_claim' });
  });

  it('reports an object whose bytes read differ from the claim as object_changed', async () => {
    const sut = new ClaimedContent(claim, null, true, 'object');
    await readAll(sut.tap(Readable.from([Buffer.from('a,b\n'), Buffer.from('7,7\n')])));
    expect(sut.verify(null)).toMatchObject({ rule: 'object_changed', message: expect.stringContaining('overwritten while it was read') });
  });

  it('reports a file that grew or was rewritten during the load, from its size and mtime', () => {
    expect(new ClaimedContent(claim, stat).verify({ size: claimed.length + 4, mtimeMs: 1000 })?.message).toContain(`it has ${claimed.length + 4} bytes`);
    expect(new ClaimedContent(claim, stat).verify({ size: claimed.length, mtimeMs: 2000 })).toMatchObject({ rule: 'changed_after_claim' });
  });

  it('ignores a stream the load stopped reading early (the head read for routing)', async () => {
    const sut = new ClaimedContent(claim, stat);
    const source = new Readable({ read: () => undefined });
    source.push('a,b\n');
    for await (const chunk of sut.tap(source)) {
      expect((chunk as Buffer).toString()).toBe('a,b\n');
      break;
    }
    await new Promise((r) => setImmediate(r)); // pipeline() destroys the source on the next tick
    expect(source.destroyed).toBe(true);
    expect(sut.verify(stat)).toBeNull();
  });
});
