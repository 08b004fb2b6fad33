import type { ByteRange } from '@sluice/storage';
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { hashingTap, type ContentSnapshot } from './claimed-content.util';

interface ReadRange {
  start: number;
  end: number;
  sha256: string;
}

/**
 * Proves that ranges of an object read out of order (a zip archive's directory and members) were bytes of
 * the claimed version. Each range is hashed as it arrives; `verify` then reads the object once from its
 * start and checks both the whole (against the claim's SHA-256 and size) and every range read (against the
 * same offsets of the whole). `If-Match` at the start of each GET is not enough: a server may serve bytes of
 * a newer version within one response.
 */
export class ReadRanges {
  private readonly ranges: ReadRange[] = [];

  /** The range's stream with a hash tap; what was read is recorded when the stream ends or is closed early. */
  tap(range: ByteRange, stream: Readable): Readable {
    return hashingTap(stream, (read) => this.ranges.push({ start: range.start, end: range.start + read.size, sha256: read.sha256 }), { orClose: true });
  }

  /** True when the whole object is the claimed version and every range read holds its bytes. */
  async verify(whole: AsyncIterable<Buffer>, claim: ContentSnapshot): Promise<boolean> {
    const pending = [...this.ranges].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
    const active: Array<{ range: ReadRange; hash: Hash }> = [];
    const all = createHash('sha256');
    let offset = 0;
    let next = 0;
    let ok = true;
    for await (const chunk of whole) {
      const end = offset + chunk.length;
      while (next < pending.length && pending[next].start < end) active.push({ range: pending[next++], hash: createHash('sha256') });
      for (let i = active.length - 1; i >= 0; i--) {
        const { range, hash } = active[i];
        hash.update(chunk.subarray(Math.max(0, range.start - offset), Math.min(chunk.length, range.end - offset)));
        if (range.end > end) continue;
        if (hash.digest('hex') !== range.sha256) ok = false;
        active.splice(i, 1);
      }
      all.update(chunk);
      offset = end;
    }
    // A range beyond the end of what was read now was not of this version either.
    if (active.length || next < pending.length) ok = false;
    return ok && offset === claim.size && all.digest('hex') === claim.sha256;
  }
}
