import type { WatcherConfig } from '@sluice/config';
import { DiskSpace, type DropAreas, type IncomingEntry, type StatFs } from '@sluice/storage';
import type { Stats } from 'node:fs';
import type { ClaimService } from './claim.service';
import { TaskTracker } from './concurrency.util';
import { IncomingWatcher } from './incoming-watcher.service';
import type { WatcherMetrics } from './watcher.metrics';
import { FakeCounter } from '../../test/fakes';

// IncomingWatcher's pause while the drop folder's disk is low, with typed fakes: no folder on disk, no claim.
// The real DiskSpace decides, over a fake statfs. disk-low.e2e-spec.ts runs it on a small tmpfs.

const MiB = 1024 * 1024;

/** incoming/ as a list of names; each a file renamed into place (ctime after mtime: claimed without a wait). */
class FakeIncoming implements Pick<DropAreas, 'listIncoming' | 'statIncoming'> {
  readonly names = new Set<string>();
  async listIncoming(): Promise<IncomingEntry[]> {
    return [...this.names].map((relativePath) => ({ relativePath, type: 'file' }));
  }
  async statIncoming(rel: string): Promise<Stats | null> {
    if (!this.names.has(rel)) return null;
    return { isFile: () => true, isDirectory: () => false, size: 10, mtimeMs: 1000, ctimeMs: 2000 } as Stats;
  }
}

class FakeClaims implements Pick<ClaimService, 'claimIncoming' | 'quarantineIrregular'> {
  readonly claimed: string[] = [];
  constructor(private readonly incoming: FakeIncoming) {}
  async claimIncoming(rel: string): Promise<void> {
    this.incoming.names.delete(rel);
    this.claimed.push(rel);
  }
  async quarantineIrregular(): Promise<void> {
    throw new Error('nothing irregular here');
  }
}

function setup() {
  const free = { bytes: 100 * MiB };
  const statfs: StatFs = async () => ({ bavail: free.bytes / 4096, bsize: 4096 });
  // Every call of current() reads again (a clock that moves a second each time it is asked).
  let t = 0;
  const disk = new DiskSpace('/drop', 8 * MiB, statfs, () => (t += 1001));
  const incoming = new FakeIncoming();
  const claims = new FakeClaims(incoming);
  const tasks = new TaskTracker();
  const watcher = new IncomingWatcher(
    { STABILITY_WINDOW_MS: 0 } as WatcherConfig,
    incoming as unknown as DropAreas,
    claims as unknown as ClaimService,
    tasks,
    { unclaimable: new FakeCounter() } as unknown as WatcherMetrics,
    disk,
  );
  /** A full scan, and every check it scheduled, to their end. */
  const scan = async () => {
    await watcher.scan();
    await new Promise((r) => setTimeout(r, 5));
    await tasks.drain();
  };
  return { free, disk, incoming, claims, scan };
}

describe('IncomingWatcher while the disk is low', () => {
  it('claims nothing while the drop folder is below MIN_FREE_DISK, and every waiting file once space is back', async () => {
    const { free, disk, incoming, claims, scan } = setup();
    free.bytes = 4 * MiB;
    incoming.names.add('a.csv').add('sub/b.csv');
    await scan();
    await scan();
    expect(disk.low).toBe(true);
    expect(claims.claimed).toEqual([]);
    expect([...incoming.names]).toEqual(['a.csv', 'sub/b.csv']);

    free.bytes = 64 * MiB;
    await scan();
    expect(disk.low).toBe(false);
    expect(claims.claimed.sort()).toEqual(['a.csv', 'sub/b.csv']);
    await scan();
    expect(claims.claimed).toHaveLength(2);
  });

  it('claims as usual with space to spare', async () => {
    const { incoming, claims, scan } = setup();
    incoming.names.add('c.csv');
    await scan();
    expect(claims.claimed).toEqual(['c.csv']);
  });
});
