import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countDropFolders } from './folder-counter';

describe(countDropFolders.name, () => {
  let root: string;
  const put = (rel: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), 'x');
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-folders-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('counts data files per area, sub-folders included, without dotfiles or error reports', async () => {
    put('incoming/a.csv');
    put('incoming/.b.csv.part');
    put('incoming/sub/deeper/c.csv');
    put('processed/2026/d.csv');
    put('quarantine/e.csv');
    put('quarantine/e.csv.error.json');
    symlinkSync('/etc', join(root, 'processed', 'link'));
    expect(await countDropFolders(root)).toEqual({ counts: { incoming: 2, processing: 0, processed: 1, quarantine: 1 }, truncated: false });
  });

  it('stops at the cap and says so', async () => {
    for (let i = 0; i < 5; i++) put(`processed/f${i}.csv`);
    expect(await countDropFolders(root, 3)).toEqual({ counts: { incoming: 0, processing: 0, processed: 3, quarantine: 0 }, truncated: true });
  });
});
