import { formatBytes } from '@sluice/config';
import { DiskSpace, isDiskLow, judgeDisk, lowDiskReason, type DiskState, type StatFs } from './disk-space';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** A file system whose free space the test sets; counts its reads. */
class FakeFs {
  freeBytes = 10 * GiB;
  failure?: Error;
  reads = 0;
  readonly statfs: StatFs = async (path) => {
    this.reads++;
    if (this.failure) throw this.failure;
    expect(path).toBe('/drop');
    return { bavail: this.freeBytes / 4096, bsize: 4096 };
  };
}

/** A clock the test moves. */
class FakeClock {
  t = 1_000_000;
  readonly now = () => this.t;
}

function setup(minFree = GiB) {
  const fs = new FakeFs();
  const clock = new FakeClock();
  const disk = new DiskSpace('/drop', minFree, fs.statfs, clock.now);
  const changes: Array<{ state: DiskState; previous: DiskState }> = [];
  disk.onChange((state, previous) => changes.push({ state, previous }));
  return { fs, clock, disk, changes };
}

describe('the free-space decision', () => {
  it('is low strictly below the floor, and never with a floor of 0', () => {
    expect(isDiskLow(GiB - 1, GiB)).toBe(true);
    expect(isDiskLow(GiB, GiB)).toBe(false);
    expect(isDiskLow(0, 0)).toBe(false);
  });

  it('says how much is free and what the floor is, in binary units', () => {
    expect(lowDiskReason(12 * MiB, GiB)).toBe('drop folder has 12 MiB free, below MIN_FREE_DISK 1 GiB');
    expect(formatBytes(1.5 * GiB)).toBe('1.5 GiB');
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(0)).toBe('0 bytes');
  });

  it('reports a failed read without pausing anything', () => {
    const s = judgeDisk({ error: new Error('ENOENT: no such file or directory') }, GiB, 5);
    expect(s).toEqual({ freeBytes: null, minFreeBytes: GiB, low: false, problem: 'the free space of the drop folder cannot be read: ENOENT: no such file or directory', checkedAt: 5 });
  });
});

describe('DiskSpace', () => {
  it('turns low below MIN_FREE_DISK and back once space is freed, telling listeners once per change', async () => {
    const { fs, disk, changes } = setup();
    expect((await disk.check()).low).toBe(false);
    fs.freeBytes = 12 * MiB;
    const low = await disk.check();
    expect(low).toMatchObject({ low: true, freeBytes: 12 * MiB, problem: 'drop folder has 12 MiB free, below MIN_FREE_DISK 1 GiB' });
    fs.freeBytes = 8 * MiB;
    await disk.check();
    expect(disk.low).toBe(true);
    fs.freeBytes = 2 * GiB;
    expect((await disk.check()).low).toBe(false);
    expect(changes.map((c) => [c.previous.low, c.state.low])).toEqual([
      [false, true],
      [true, false],
    ]);
  });

  it('reuses a recent answer in current() and reads again once it is older than the limit', async () => {
    const { fs, clock, disk } = setup();
    await disk.current();
    expect(fs.reads).toBe(1);
    clock.t += 500;
    fs.freeBytes = MiB;
    expect((await disk.current(1000)).low).toBe(false);
    expect(fs.reads).toBe(1);
    clock.t += 1000;
    expect((await disk.current(1000)).low).toBe(true);
    expect(fs.reads).toBe(2);
  });

  it('shares one read among callers that ask at the same time', async () => {
    const { fs, disk } = setup();
    const states = await Promise.all([disk.check(), disk.check(), disk.current()]);
    expect(fs.reads).toBe(1);
    expect(new Set(states).size).toBe(1);
  });

  it('reads nothing and never pauses when MIN_FREE_DISK is 0', async () => {
    const { fs, disk } = setup(0);
    fs.freeBytes = 0;
    expect(disk.enabled).toBe(false);
    expect((await disk.check()).low).toBe(false);
    expect((await disk.current()).low).toBe(false);
    expect(fs.reads).toBe(0);
  });

  it('tells listeners when the free space cannot be read, and when it can again, without pausing', async () => {
    const { fs, disk, changes } = setup();
    fs.failure = new Error('EACCES: permission denied');
    const s = await disk.check();
    expect(s).toMatchObject({ low: false, freeBytes: null });
    await disk.check();
    fs.failure = undefined;
    await disk.check();
    expect(changes.map((c) => c.state.problem)).toEqual(['the free space of the drop folder cannot be read: EACCES: permission denied', null]);
  });

  it('counts blocks free to unprivileged writers (bavail), which statfs may give as bigint', async () => {
    const disk = new DiskSpace('/drop', 100 * MiB, async () => ({ bavail: 10n, bsize: 1048576n }));
    expect(await disk.check()).toMatchObject({ freeBytes: 10 * MiB, low: true });
  });
});
