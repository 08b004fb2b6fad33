import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DropAreas } from '@sluice/storage';
import { copyIntoProcessing, walkFolder } from './source-files';
import { gzipSync } from 'node:zlib';

describe('walkFolder / copyIntoProcessing', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-walk-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists regular files in name order with paths relative to the root, never following a symlink', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'b', 'deeper'), { recursive: true });
    writeFileSync(join(src, 'z.csv'), 'z');
    writeFileSync(join(src, 'a.csv'), 'aa');
    writeFileSync(join(src, 'b', 'deeper', 'c.json'), '{}');
    writeFileSync(join(src, '.hidden'), 'x');
    writeFileSync(join(src, 'half.csv.part'), 'x');
    writeFileSync(join(dir, 'outside.csv'), 'secret');
    symlinkSync(join(dir, 'outside.csv'), join(src, 'link.csv'));
    symlinkSync(dir, join(src, 'linked-dir'));

    const r = await walkFolder(src);
    expect(r.files.map((f) => [f.rel, f.size])).toEqual([['a.csv', 2], ['b/deeper/c.json', 2], ['z.csv', 1]]);
    expect(r.skipped.map((s) => s.rel).sort()).toEqual(['link.csv', 'linked-dir']);
    expect(r.ignored).toBe(2);
  });

  it('copies a file into processing/<id>__<name> with its sha256, leaving no temporary file', async () => {
    const drop = new DropAreas(join(dir, 'dz'));
    await drop.init();
    const content = 'ts,device,temp\n1,d,20\n'.repeat(50000);
    writeFileSync(join(dir, 'in.csv'), content);
    const id = '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10';
    const r = await copyIntoProcessing({ abs: join(dir, 'in.csv'), rel: 'sub/in.csv', size: content.length }, drop, id);
    expect(r).toEqual({ storedPath: `processing/${id}__in.csv`, sha256: createHash('sha256').update(content).digest('hex'), size: content.length, compression: null });
    expect(readdirSync(join(dir, 'dz', 'processing'))).toEqual([`${id}__in.csv`]);
    expect(readFileSync(join(dir, 'dz', r.storedPath), 'utf8')).toBe(content);
  });

  it('records a gzip file by its uncompressed content, as the watcher does', async () => {
    const drop = new DropAreas(join(dir, 'dz'));
    await drop.init();
    const content = 'ts,device,temp\n1,d,20\n'.repeat(1000);
    writeFileSync(join(dir, 'in.csv.gz'), gzipSync(content));
    const id = '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f11';
    const r = await copyIntoProcessing({ abs: join(dir, 'in.csv.gz'), rel: 'in.csv.gz', size: 0 }, drop, id);
    expect(r).toEqual({ storedPath: `processing/${id}__in.csv.gz`, sha256: createHash('sha256').update(content).digest('hex'), size: content.length, compression: 'gzip' });
  });

  it('refuses to read through a symlink', async () => {
    const drop = new DropAreas(join(dir, 'dz'));
    await drop.init();
    writeFileSync(join(dir, 'real.csv'), 'x');
    symlinkSync(join(dir, 'real.csv'), join(dir, 'link.csv'));
    await expect(copyIntoProcessing({ abs: join(dir, 'link.csv'), rel: 'link.csv', size: 1 }, drop, '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f11')).rejects.toThrow(/ELOOP/);
    expect(readdirSync(join(dir, 'dz', 'processing'))).toEqual([]);
  });
});
