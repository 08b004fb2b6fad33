import { UploadWriter } from '@sluice/storage';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TempSweeper } from './temp-sweeper.service';

describe(TempSweeper.name, () => {
  let dir: string;
  let drop: UploadWriter;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-sweep-'));
    drop = new UploadWriter(dir);
    await drop.init();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes only our temp files idle for an hour', async () => {
    const old = join(dir, 'processing', `.${randomUUID()}.0a1b2c3d.tmp`);
    const fresh = join(dir, 'processing', `.${randomUUID()}.0a1b2c3d.tmp`);
    const foreign = join(dir, 'processing', '.someone-else.tmp');
    const stored = join(dir, 'processing', `${randomUUID()}__a.json`);
    for (const f of [old, fresh, foreign, stored]) writeFileSync(f, 'x');
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    for (const f of [old, foreign, stored]) utimesSync(f, twoHoursAgo, twoHoursAgo);

    expect(await new TempSweeper(drop).sweep()).toBe(1);
    expect([old, fresh, foreign, stored].map((f) => existsSync(f))).toEqual([false, true, true, true]);
  });
});
