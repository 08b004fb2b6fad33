import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DropAreas, MAX_WALK_DEPTH, parseStoredName } from './drop-areas';
import { DropClaims } from './drop-claims';
import { OutcomeFiling } from './outcome-filing';
import { UploadWriter } from './upload-writer';
import { isIgnoredName, isIgnoredPath, sanitizeSegments, toSafeRelative } from './path-safety.util';
import { StorageException } from './storage.exception';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += (chunk as Buffer).toString();
  return out;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    return e instanceof StorageException ? e.code : (e as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe('path safety', () => {
  it('ignores partial and hidden names', () => {
    for (const n of ['a.csv.part', 'a.TMP', 'x.crdownload', '.hidden', '.~lock.a.csv#']) expect(isIgnoredName(n)).toBe(true);
    for (const n of ['a.csv', 'part', 'tmp.csv', 'a.partial']) expect(isIgnoredName(n)).toBe(false);
    expect(isIgnoredPath('.staging/a.csv')).toBe(true);
    expect(isIgnoredPath('sub/a.csv')).toBe(false);
  });

  it('refuses traversal, absolute and NUL paths', () => {
    for (const p of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a\0b', '']) {
      expect(() => toSafeRelative(p)).toThrow(StorageException);
    }
    expect(toSafeRelative('a/b.csv')).toBe('a/b.csv');
  });

  it('sanitises outside names into safe segments', () => {
    expect(sanitizeSegments('../../etc/passwd')).toEqual(['etc', 'passwd']);
    expect(sanitizeSegments('/abs/x.csv')).toEqual(['abs', 'x.csv']);
    expect(sanitizeSegments('a\\..\\b\nc.csv')).toEqual(['a', 'b_c.csv']);
    expect(sanitizeSegments('..')).toEqual(['unnamed']);
    const long = sanitizeSegments('x'.repeat(400) + '.csv')[0];
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(160);
    expect(long.endsWith('.csv')).toBe(true);
  });
});

describe('drop folder', () => {
  let tmp: string;
  let root: string;
  let outside: string;
  let areas: DropAreas;
  let claims: DropClaims;
  let filing: OutcomeFiling;
  let writer: UploadWriter;

  beforeEach(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'sluice-storage-'));
    root = join(tmp, 'drop');
    outside = join(tmp, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    areas = new DropAreas(root);
    await areas.init();
    claims = new DropClaims(root);
    filing = new OutcomeFiling(root);
    writer = new UploadWriter(root);
  });

  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const put = (rel: string, content: string) => {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
    return p;
  };

  it('creates the layout and refuses an area that is a symlink', async () => {
    for (const a of ['incoming', 'processing', 'processed', 'quarantine']) expect(lstatSync(join(root, a)).isDirectory()).toBe(true);
    const other = join(tmp, 'other');
    mkdirSync(other);
    symlinkSync(outside, join(other, 'incoming'));
    expect(await codeOf(new DropAreas(other).init())).toBe('unsafe_directory');
  });

  describe('claim', () => {
    it('renames into processing/<fileId>__<basename> and keeps the content', async () => {
      put('incoming/sub/a.csv', 'hello');
      const id = randomUUID();
      const claimed = await claims.claim('sub/a.csv', id);
      expect(claimed).toEqual({ storedPath: `processing/${id}__a.csv` });
      expect(existsSync(join(root, 'incoming/sub/a.csv'))).toBe(false);
      expect(await areas.sha256AndSize(claimed!.storedPath)).toEqual({ sha256: sha('hello'), size: 5, compression: null });
      expect(await readAll(areas.openRead(claimed!.storedPath))).toBe('hello');
      expect((await areas.stat(claimed!.storedPath)).size).toBe(5);
    });

    it('returns null when another watcher won the rename', async () => {
      put('incoming/a.csv', 'x');
      const [one, two] = await Promise.all([claims.claim('a.csv', randomUUID()), claims.claim('a.csv', randomUUID())]);
      expect([one, two].filter(Boolean)).toHaveLength(1);
      expect(await claims.claim('gone.csv', randomUUID())).toBeNull();
    });

    it('refuses traversal and absolute names and never touches the target', async () => {
      expect(await codeOf(claims.claim('../outside/secret.txt', randomUUID()))).toBe('unsafe_path');
      expect(await codeOf(claims.claim('../../outside/secret.txt', randomUUID()))).toBe('unsafe_path');
      expect(await codeOf(claims.claim(join(outside, 'secret.txt'), randomUUID()))).toBe('unsafe_path');
      expect(await codeOf(claims.claim('a.csv', 'not-a-uuid'))).toBe('unsafe_path');
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    });

    it('refuses a symlink and a file behind a symlinked folder', async () => {
      symlinkSync(join(outside, 'secret.txt'), join(root, 'incoming/link.csv'));
      expect(await codeOf(claims.claim('link.csv', randomUUID()))).toBe('not_regular_file');
      symlinkSync(outside, join(root, 'incoming/linkdir'));
      expect(await codeOf(claims.claim('linkdir/secret.txt', randomUUID()))).toBe('unsafe_directory');
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    });
  });

  describe('openRead and stat', () => {
    it('never follows a symlink in processing/ that points outside', async () => {
      const stored = `processing/${randomUUID()}__link.csv`;
      symlinkSync(join(outside, 'secret.txt'), join(root, stored));
      expect(await codeOf(() => areas.openRead(stored))).toBe('not_regular_file');
      expect(await codeOf(areas.stat(stored))).toBe('not_regular_file');
      expect(await codeOf(areas.sha256AndSize(stored))).toBe('not_regular_file');
    });

    it('refuses a FIFO without blocking on it', async () => {
      const stored = `processing/${randomUUID()}__pipe.csv`;
      execFileSync('mkfifo', [join(root, stored)]);
      expect(await codeOf(() => areas.openRead(stored))).toBe('not_regular_file');
      expect(await codeOf(areas.stat(stored))).toBe('not_regular_file');
    });

    it('reads a byte range, and knows a gzip file (stored or written) by its uncompressed content', async () => {
      const stored = `processing/${randomUUID()}__a.bin`;
      put(stored, 'hello world');
      expect(await readAll(areas.openRead(stored, { start: 6, end: 11 }))).toBe('world');
      const gz = `processing/${randomUUID()}__a.csv.gz`;
      writeFileSync(join(root, gz), gzipSync('hello'));
      expect(await areas.sha256AndSize(gz)).toEqual({ sha256: sha('hello'), size: 5, compression: 'gzip' });
      const written = await writer.writeProcessing(randomUUID(), 'up.gz', (async function* () {
        yield gzipSync('hello');
      })());
      expect(written).toMatchObject({ sha256: sha('hello'), size: 5, compression: 'gzip' });
      expect(await writer.writeProcessing(randomUUID(), 'small.gz', gzipSync('hello'))).toMatchObject({ sha256: sha('hello'), compression: 'gzip' });
    });

    it('refuses stored paths that leave the drop folder or name no area', async () => {
      for (const p of ['../outside/secret.txt', 'processing/../../outside/secret.txt', join(outside, 'secret.txt'), 'elsewhere/x', 'processing']) {
        expect(await codeOf(() => areas.openRead(p))).toBe('unsafe_path');
      }
    });
  });

  describe('fileOutcome', () => {
    const claimed = async (rel: string, content: string) => {
      put(`incoming/${rel}`, content);
      const id = randomUUID();
      const c = await claims.claim(rel, id);
      return { id, storedPath: c!.storedPath };
    };

    it('moves into processed/ keeping sub-folders', async () => {
      const { storedPath } = await claimed('a/b/c.csv', 'one');
      expect(await filing.fileOutcome(storedPath, 'processed', 'a/b/c.csv')).toBe('processed/a/b/c.csv');
      expect(readFileSync(join(root, 'processed/a/b/c.csv'), 'utf8')).toBe('one');
      expect(existsSync(join(root, storedPath))).toBe(false);
    });

    it('suffixes with the file id on a collision and never overwrites', async () => {
      const first = await claimed('c.csv', 'one');
      const second = await claimed('c.csv', 'two');
      expect(await filing.fileOutcome(first.storedPath, 'processed', 'c.csv')).toBe('processed/c.csv');
      expect(await filing.fileOutcome(second.storedPath, 'processed', 'c.csv')).toBe(`processed/c.${second.id}.csv`);
      expect(readFileSync(join(root, 'processed/c.csv'), 'utf8')).toBe('one');
      expect(readFileSync(join(root, `processed/c.${second.id}.csv`), 'utf8')).toBe('two');
    });

    it('is idempotent: a repeated move returns the same place', async () => {
      const { storedPath } = await claimed('d.csv', 'dee');
      const once = await filing.fileOutcome(storedPath, 'processed', 'd.csv', undefined, { sha256: sha('dee') });
      const twice = await filing.fileOutcome(storedPath, 'processed', 'd.csv', undefined, { sha256: sha('dee') });
      expect(twice).toBe(once);
    });

    it('finishes a move interrupted between link and unlink', async () => {
      const { storedPath } = await claimed('e.csv', 'eee');
      linkSync(join(root, storedPath), join(root, 'processed/e.csv'));
      expect(await filing.fileOutcome(storedPath, 'processed', 'e.csv')).toBe('processed/e.csv');
      expect(existsSync(join(root, storedPath))).toBe(false);
    });

    it('does not mistake another file with the same name for a finished move', async () => {
      put('processed/f.csv', 'someone else');
      const stored = `processing/${randomUUID()}__f.csv`;
      expect(await codeOf(filing.fileOutcome(stored, 'processed', 'f.csv', undefined, { sha256: sha('mine') }))).toBe('missing');
    });

    it('quarantines with an atomically written error.json, sanitising the original name', async () => {
      const { storedPath } = await claimed('bad.csv', 'bad');
      const error = { rule: 'unrecognized_format', message: 'no header' };
      expect(await filing.fileOutcome(storedPath, 'quarantine', '../../bad.csv', error)).toBe('quarantine/bad.csv');
      expect(JSON.parse(readFileSync(join(root, 'quarantine/bad.csv.error.json'), 'utf8'))).toEqual(error);
      expect(existsSync(join(tmp, 'bad.csv'))).toBe(false);
      // Repeat: still a success, error.json rewritten in place, no temp files left.
      expect(await filing.fileOutcome(storedPath, 'quarantine', '../../bad.csv', error)).toBe('quarantine/bad.csv');
      expect(readdirSync(join(root, 'quarantine')).sort()).toEqual(['bad.csv', 'bad.csv.error.json']);
    });

    it('only moves out of processing/', async () => {
      put('processed/x.csv', 'x');
      expect(await codeOf(filing.fileOutcome('processed/x.csv', 'quarantine', 'x.csv'))).toBe('unsafe_path');
      expect(await codeOf(filing.fileOutcome('processing/../processed/x.csv', 'quarantine', 'x.csv'))).toBe('unsafe_path');
    });
  });

  describe('removeFiled (retention)', () => {
    it('removes a processed file, and a quarantined one with its error.json; dryRun measures and keeps', async () => {
      put('processed/site/a.csv', 'aaaa');
      put('quarantine/b.csv', 'bb');
      put('quarantine/b.csv.error.json', '{"x":1}');
      expect(await filing.removeFiled('quarantine/b.csv', { dryRun: true })).toEqual({ found: true, bytes: 2 + 7 });
      expect(readdirSync(join(root, 'quarantine')).sort()).toEqual(['b.csv', 'b.csv.error.json']);
      expect(await filing.removeFiled('processed/site/a.csv')).toEqual({ found: true, bytes: 4 });
      expect(await filing.removeFiled('quarantine/b.csv')).toEqual({ found: true, bytes: 9 });
      expect(existsSync(join(root, 'processed/site/a.csv'))).toBe(false);
      expect(readdirSync(join(root, 'quarantine'))).toEqual([]);
    });

    it('discards the processing/ name a restore made, and nothing outside processing/', async () => {
      put('processed/r.csv', 'rrr');
      const id = randomUUID();
      const { storedPath } = await filing.restore('processed/r.csv', id);
      await filing.discardRestored(storedPath);
      expect(existsSync(join(root, storedPath))).toBe(false);
      expect(readFileSync(join(root, 'processed/r.csv'), 'utf8')).toBe('rrr');
      await filing.discardRestored(storedPath);
      expect(await codeOf(filing.discardRestored('processed/r.csv'))).toBe('unsafe_path');
    });

    it('finds nothing to remove for a file already gone, or under a folder already gone', async () => {
      expect(await filing.removeFiled('processed/gone.csv')).toEqual({ found: false, bytes: 0 });
      expect(await filing.removeFiled('processed/no/such/dir/gone.csv')).toEqual({ found: false, bytes: 0 });
    });

    it('unlinks a symlink filed as-is without touching its target, and refuses paths outside processed/ and quarantine/', async () => {
      symlinkSync(join(outside, 'secret.txt'), join(root, 'quarantine/link'));
      expect((await filing.removeFiled('quarantine/link')).found).toBe(true);
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
      put('incoming/keep.csv', 'k');
      for (const p of ['incoming/keep.csv', 'processing/x.csv', 'processed/../incoming/keep.csv', '/etc/passwd', 'processed']) {
        expect(await codeOf(filing.removeFiled(p))).toBe('unsafe_path');
      }
      expect(existsSync(join(root, 'incoming/keep.csv'))).toBe(true);
      symlinkSync(outside, join(root, 'processed/via'));
      expect(await codeOf(filing.removeFiled('processed/via/secret.txt'))).toBe('unsafe_directory');
      expect(existsSync(join(outside, 'secret.txt'))).toBe(true);
      mkdirSync(join(root, 'processed/dir'));
      expect(await codeOf(filing.removeFiled('processed/dir'))).toBe('not_regular_file');
    });
  });

  describe('irregular entries', () => {
    it('moves a symlink pointing outside into quarantine/ as a symlink, never reading it', async () => {
      symlinkSync(join(outside, 'secret.txt'), join(root, 'incoming/evil.csv'));
      const q = await areas.quarantineIrregular('incoming/evil.csv', 'symlinks are never followed');
      expect(q).toEqual({ storedPath: 'quarantine/evil.csv', type: 'symlink' });
      expect(lstatSync(join(root, 'quarantine/evil.csv')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(root, 'quarantine/evil.csv'))).toBe(join(outside, 'secret.txt'));
      const why = JSON.parse(readFileSync(join(root, 'quarantine/evil.csv.error.json'), 'utf8'));
      expect(why).toMatchObject({ rule: 'not_regular_file', type: 'symlink', originalName: 'evil.csv' });
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    });

    it('moves a FIFO and suffixes on collision; refuses regular files', async () => {
      put('quarantine/sub/p.csv', 'taken');
      mkdirSync(join(root, 'incoming/sub'));
      execFileSync('mkfifo', [join(root, 'incoming/sub/p.csv')]);
      const q = await areas.quarantineIrregular('incoming/sub/p.csv', 'FIFOs are never read');
      expect(q?.type).toBe('fifo');
      expect(q?.storedPath).toMatch(/^quarantine\/sub\/p\.[0-9a-f]{8}\.csv$/);
      expect(lstatSync(join(root, q!.storedPath)).isFIFO()).toBe(true);
      put('incoming/plain.csv', 'x');
      expect(await codeOf(areas.quarantineIrregular('incoming/plain.csv', 'no'))).toBe('not_regular_file');
      expect(await areas.quarantineIrregular('incoming/gone', 'no')).toBeNull();
    });
  });

  describe('writers and links', () => {
    it('replaces a hard-linked stored file by a private copy: the other name can no longer change the stored bytes', async () => {
      const other = join(outside, 'data.csv');
      writeFileSync(other, 'a,b\n1,2\n');
      linkSync(other, join(root, 'incoming/data.csv'));
      const id = randomUUID();
      const claimed = await claims.claim('data.csv', id);
      expect(await claims.ensurePrivate(claimed!.storedPath)).toBe(2);
      writeFileSync(other, 'a,b\n9,9\n');
      expect(await readAll(areas.openRead(claimed!.storedPath))).toBe('a,b\n1,2\n');
      expect(lstatSync(join(root, claimed!.storedPath)).nlink).toBe(1);
      expect(await claims.ensurePrivate(claimed!.storedPath)).toBe(1);
      expect(readdirSync(join(root, 'processing')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    });

    it('names the stored files a process holds open for writing, not those open for reading', async () => {
      const id = randomUUID();
      put('incoming/slow.csv', 'a,b\n');
      const writer = openSync(join(root, 'incoming/slow.csv'), 'a');
      const readerFile = put(`processing/${randomUUID()}__read.csv`, 'x');
      const reader = openSync(readerFile, 'r');
      try {
        const claimed = await claims.claim('slow.csv', id);
        expect([...(await claims.openForWriting())]).toEqual([claimed!.storedPath]);
        closeSync(writer);
        expect([...(await claims.openForWriting())]).toEqual([]);
      } finally {
        closeSync(reader);
        try {
          closeSync(writer);
        } catch {
          // already closed
        }
      }
    });

    it('reports a directory nested deeper than the walk goes instead of skipping it silently', async () => {
      const deep = Array.from({ length: MAX_WALK_DEPTH + 2 }, (_, i) => `d${i}`);
      put(`incoming/${deep.join('/')}/x.csv`, 'x');
      put('incoming/top.csv', 't');
      const incoming = await areas.listIncoming();
      expect(incoming).toContainEqual({ relativePath: 'top.csv', type: 'file' });
      expect(incoming).toContainEqual({ relativePath: deep.slice(0, MAX_WALK_DEPTH + 1).join('/'), type: 'directory', unreachable: 'too_deep' });
      expect(incoming.filter((e) => e.relativePath.endsWith('x.csv'))).toEqual([]);
    });
  });

  it('lists processing/ with parsed ids and incoming/ without entering symlinks or ignored names', async () => {
    const id = randomUUID();
    put(`processing/${id}__x.csv`, 'x');
    put('processing/stray.bin', 'y');
    put('incoming/a.csv', 'a');
    put('incoming/sub/b.json', 'b');
    put('incoming/c.csv.part', 'c');
    put('incoming/.staging/d.csv', 'd');
    symlinkSync(outside, join(root, 'incoming/linkdir'));
    const processing = await areas.listProcessing();
    expect(processing.find((e) => e.name.startsWith(id))).toMatchObject({ fileId: id, originalBasename: 'x.csv', type: 'file', size: 1 });
    expect(processing.find((e) => e.name === 'stray.bin')?.fileId).toBeNull();
    const incoming = (await areas.listIncoming()).sort((a, b) => a.relativePath.localeCompare(b.relativePath));
    expect(incoming).toEqual([
      { relativePath: 'a.csv', type: 'file' },
      { relativePath: 'linkdir', type: 'symlink' },
      { relativePath: 'sub/b.json', type: 'file' },
    ]);
    expect(parseStoredName('nope')).toBeNull();
    expect(areas.relativeToIncoming(join(areas.areaPath('incoming'), 'sub/b.json'))).toBe('sub/b.json');
    expect(areas.relativeToIncoming(join(areas.areaPath('incoming'), '../processing/x'))).toBeNull();
  });
});
