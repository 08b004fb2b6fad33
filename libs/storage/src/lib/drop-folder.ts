import { Injectable, type OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, fsync, openSync, realpathSync, renameSync, writeSync, type ReadStream, type Stats } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, readFile, readlink, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { entryType, isIgnoredName, resolveInside, sanitizeSegments, toSafeRelative, withSuffix, type EntryType } from './path-safety.util';
import { StorageException } from './storage.exception';
import { contentDigest, DEFAULT_DECOMPRESSION_LIMITS, sniffCompression, type Compression, type ContentDigest, type DecompressionLimits } from '@sluice/formats';

export const DROP_AREAS = ['incoming', 'processing', 'processed', 'quarantine'] as const;
export type DropArea = (typeof DROP_AREAS)[number];
export type FinishTarget = 'processed' | 'quarantine';

export interface ClaimResult {
  /** Relative to the drop folder root: `processing/<fileId>__<basename>`. */
  storedPath: string;
}

export interface ProcessingEntry {
  storedPath: string;
  name: string;
  /** Parsed from `<fileId>__<basename>`; null for a name that does not follow the convention. */
  fileId: string | null;
  originalBasename: string | null;
  type: EntryType;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface IncomingEntry {
  /** Relative to incoming/, `/`-separated. */
  relativePath: string;
  type: EntryType;
  /**
   * Set on a directory whose contents can never be claimed: nested deeper than the walk goes
   * (`too_deep`), or not readable (`unreadable`).
   */
  unreachable?: 'too_deep' | 'unreadable';
}

export interface FinishOptions {
  /**
   * Content hash of the file. Used only when the source is already gone (a retried move) to prove that
   * a destination with the plain name is this file and not another one with the same name.
   */
  sha256?: string;
}

export interface WrittenFile {
  /** `processing/<fileId>__<name>`. */
  storedPath: string;
  /** Of the content: a gzip file's uncompressed bytes (see contentDigest). */
  sha256: string;
  size: number;
  compression: Compression | null;
}

/** Bytes `start` (inclusive) to `end` (exclusive) of a stored file. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface IrregularQuarantine {
  storedPath: string;
  type: EntryType;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STORED_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})__(.+)$/i;
const HARD_LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** Directory levels below incoming/ that are watched and scanned (chokidar's `depth` uses the same). */
export const MAX_WALK_DEPTH = 32;
/** Access mode bits of the `flags:` line of /proc/<pid>/fdinfo/<fd> (O_WRONLY = 1, O_RDWR = 2). */
const O_ACCMODE = 3;
const MAX_COLLISIONS = 50;
/** Buffers up to this size are written by `writeProcessing` with direct calls (all but the fsync). */
const SYNC_WRITE_MAX_BYTES = 1024 * 1024;

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
const toPosix = (p: string) => p.split(sep).join('/');

/** `<fileId>__<basename>` → its parts; null for any other name. */
export function parseStoredName(name: string): { fileId: string; originalBasename: string } | null {
  const m = STORED_NAME.exec(name);
  return m ? { fileId: m[1].toLowerCase(), originalBasename: m[2] } : null;
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (e) {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return null;
    throw e;
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) offset += (await fh.write(buf, offset, buf.length - offset)).bytesWritten;
}

/** Best effort: makes a rename or link in `dir` durable. */
async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the move itself has happened.
  }
}

/**
 * The drop folder (SPEC §3): `incoming/ processing/ processed/ quarantine/` under one root, and the
 * only code that touches files there. Every path is resolved under the root and checked to stay there;
 * every directory on the way must be a real directory (its realpath is itself, so no symlinked parent);
 * the last component is inspected with lstat and opened with O_NOFOLLOW, then fstat proves it is a
 * regular file. Names from outside are only ever sanitised into destination names, never used as paths.
 */
@Injectable()
export class DropFolder implements OnModuleInit {
  /** The root as configured (absolute); the real path after init() is what every path is built on. */
  readonly root: string;
  private realRoot?: string;
  private initialized?: Promise<void>;

  /** `limits`: how far a gzip file is decompressed to hash its content (MAX_DECOMPRESSED_BYTES, MAX_COMPRESSION_RATIO). */
  constructor(
    rootDir: string,
    private readonly limits: DecompressionLimits = DEFAULT_DECOMPRESSION_LIMITS,
  ) {
    this.root = resolve(rootDir);
  }

  onModuleInit(): Promise<void> {
    return this.init();
  }

  /** Creates the layout (idempotent). Refuses an area that exists as a symlink or a non-directory. */
  init(): Promise<void> {
    this.initialized ??= (async () => {
      await mkdir(this.root, { recursive: true });
      this.realRoot = await realpath(this.root);
      for (const area of DROP_AREAS) {
        const dir = join(this.realRoot, area);
        await mkdir(dir).catch((e: unknown) => {
          if (codeOf(e) !== 'EEXIST') throw e;
        });
        const st = await lstat(dir);
        if (!st.isDirectory()) throw new StorageException('unsafe_directory', `${dir} must be a directory, not a ${entryType(st)}`);
      }
    })().catch((e: unknown) => {
      this.initialized = undefined;
      throw e;
    });
    return this.initialized;
  }

  private get base(): string {
    this.realRoot ??= realpathSync(this.root);
    return this.realRoot;
  }

  /** Absolute path of one area, for watching it. */
  areaPath(area: DropArea): string {
    return join(this.base, area);
  }

  isIgnoredName(name: string): boolean {
    return isIgnoredName(name);
  }

  /** Path of `abs` relative to incoming/ (`/`-separated), or null when it is not strictly inside. */
  relativeToIncoming(abs: string): string | null {
    const rel = relative(this.areaPath('incoming'), resolve(abs));
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return null;
    return toPosix(rel);
  }

  /** A stored path (`<area>/<…>`) checked and made absolute. */
  private storedAbs(storedPath: string, areas: readonly DropArea[] = DROP_AREAS): string {
    const rel = toSafeRelative(storedPath);
    const [area, ...rest] = rel.split('/');
    if (!areas.includes(area as DropArea) || rest.length === 0) {
      throw new StorageException('unsafe_path', `stored path ${JSON.stringify(storedPath)} is not inside ${areas.join('/ or ')}/`);
    }
    return resolveInside(this.base, rel);
  }

  private rootRelative(abs: string): string {
    return toPosix(relative(this.base, abs));
  }

  /** Every directory from the root down to `dir` is a real directory (no symlink on the way). */
  private async assertRealDir(dir: string): Promise<void> {
    const real = await realpath(dir);
    if (real !== dir) throw new StorageException('unsafe_directory', `${dir} goes through a symlink`);
  }

  private assertRealDirSync(dir: string): void {
    if (realpathSync(dir) !== dir) throw new StorageException('unsafe_directory', `${dir} goes through a symlink`);
  }

  /** lstat of a path under incoming/ (never follows it); null when it is gone. */
  async statIncoming(relativeIncomingPath: string): Promise<Stats | null> {
    await this.init();
    const abs = resolveInside(this.areaPath('incoming'), toSafeRelative(relativeIncomingPath));
    try {
      await this.assertRealDir(dirname(abs));
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return null;
      throw e;
    }
    return lstatOrNull(abs);
  }

  /**
   * Everything under incoming/ that is not a directory, walking real directories only (a symlinked
   * directory is reported as an entry of type `symlink`, never entered). Ignored names and everything
   * below an ignored directory are left out. A directory the walk cannot enter (deeper than
   * MAX_WALK_DEPTH levels, or unreadable) is reported with `unreachable`, so that it can be made visible.
   */
  async listIncoming(): Promise<IncomingEntry[]> {
    await this.init();
    const out: IncomingEntry[] = [];
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return;
        if (prefix && (codeOf(e) === 'EACCES' || codeOf(e) === 'EPERM')) {
          out.push({ relativePath: prefix, type: 'directory', unreachable: 'unreadable' });
          return;
        }
        throw e;
      }
      for (const d of entries) {
        if (isIgnoredName(d.name)) continue;
        const rel = prefix ? `${prefix}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (depth < MAX_WALK_DEPTH) await walk(join(dir, d.name), rel, depth + 1);
          else out.push({ relativePath: rel, type: 'directory', unreachable: 'too_deep' });
        } else {
          out.push({ relativePath: rel, type: entryType(d) });
        }
      }
    };
    await walk(this.areaPath('incoming'), '', 0);
    return out;
  }

  /**
   * Claims `incoming/<relativeIncomingPath>` by an atomic rename to `processing/<fileId>__<basename>`.
   * Null when the file is gone (another watcher won the rename). Throws `not_regular_file` for anything
   * but a regular file: rename would move a symlink itself, but a symlink must not enter processing/.
   */
  async claim(relativeIncomingPath: string, fileId: string): Promise<ClaimResult | null> {
    await this.init();
    if (!UUID.test(fileId)) throw new StorageException('unsafe_path', `file id ${JSON.stringify(fileId)} is not a UUID`);
    const src = resolveInside(this.areaPath('incoming'), toSafeRelative(relativeIncomingPath));
    try {
      await this.assertRealDir(dirname(src));
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return null;
      throw e;
    }
    const st = await lstatOrNull(src);
    if (!st) return null;
    if (!st.isFile()) throw new StorageException('not_regular_file', `incoming/${relativeIncomingPath} is a ${entryType(st)}, not a regular file`);
    const name = `${fileId.toLowerCase()}__${sanitizeSegments(basename(src)).at(-1) ?? 'unnamed'}`;
    const dest = join(this.areaPath('processing'), name);
    try {
      await rename(src, dest);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return null;
      throw e;
    }
    await fsyncDir(dirname(src));
    await fsyncDir(this.areaPath('processing'));
    return { storedPath: `processing/${name}` };
  }

  /**
   * Opens a stored file for reading: O_NOFOLLOW (a symlink fails), O_NONBLOCK (a FIFO cannot block the
   * open), then fstat must show a regular file. Synchronous so that callers get a stream at once.
   */
  openRead(storedPath: string, range?: ByteRange): ReadStream {
    const abs = this.storedAbs(storedPath);
    this.assertRealDirSync(dirname(abs));
    let fd: number;
    try {
      fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (codeOf(e) === 'ELOOP') throw new StorageException('not_regular_file', `${storedPath} is a symlink`);
      throw e;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new StorageException('not_regular_file', `${storedPath} is a ${entryType(st)}, not a regular file`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return createReadStream(abs, { fd, autoClose: true, ...(range ? { start: range.start, end: range.end - 1 } : {}) });
  }

  /** lstat of a stored file, which must be a regular file. */
  async stat(storedPath: string): Promise<Stats> {
    await this.init();
    const abs = this.storedAbs(storedPath);
    await this.assertRealDir(dirname(abs));
    const st = await lstat(abs);
    if (!st.isFile()) throw new StorageException('not_regular_file', `${storedPath} is a ${entryType(st)}, not a regular file`);
    return st;
  }

  /** SHA-256 (hex) and byte count of a stored file's content (a gzip file's uncompressed bytes), streamed. */
  async sha256AndSize(storedPath: string): Promise<ContentDigest> {
    await this.init();
    return this.hashStream(this.openRead(storedPath));
  }

  /**
   * A stored file that has other names (hard links, e.g. `ln data.csv incoming/`) is replaced by a private
   * copy under the same name: whoever holds another name can no longer change the stored bytes. The
   * copy is written beside it and renamed over it (atomic). Returns the link count found.
   */
  async ensurePrivate(storedPath: string): Promise<number> {
    await this.init();
    const abs = this.storedAbs(storedPath, ['processing']);
    await this.assertRealDir(dirname(abs));
    const st = await lstat(abs);
    if (!st.isFile()) throw new StorageException('not_regular_file', `${storedPath} is a ${entryType(st)}, not a regular file`);
    if (st.nlink <= 1) return st.nlink;
    const tmp = join(dirname(abs), `.${basename(abs)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await copyFile(abs, tmp, constants.COPYFILE_EXCL);
      const fh = await open(tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, abs);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fsyncDir(dirname(abs));
    return st.nlink;
  }

  /**
   * Stored paths under processing/ that a process on this host holds open for writing, read from
   * /proc/<pid>/fd and /proc/<pid>/fdinfo (Linux). One walk answers for every file. Processes this one
   * may not inspect (other users without privileges, other containers or hosts) are not seen; without
   * /proc the set is empty.
   */
  async openForWriting(): Promise<Set<string>> {
    await this.init();
    const processing = this.areaPath('processing') + sep;
    const out = new Set<string>();
    let pids: string[];
    try {
      pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
    } catch {
      return out;
    }
    await Promise.all(
      pids.map(async (pid) => {
        const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
        for (const fd of fds) {
          const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
          if (!target.startsWith(processing)) continue;
          const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
          const flags = /^flags:\s*([0-7]+)/m.exec(info);
          if (flags && (parseInt(flags[1], 8) & O_ACCMODE) !== 0) out.add(`processing/${toPosix(target.slice(processing.length))}`);
        }
      }),
    );
    return out;
  }

  private hashStream(stream: ReadStream): Promise<ContentDigest> {
    return contentDigest(stream, this.limits);
  }

  /** What writeProcessing returns: the bytes' own hash, or for a gzip file that of its content (read again). */
  private async written(storedPath: string, head: Buffer, digest: Omit<WrittenFile, 'compression' | 'storedPath'>): Promise<WrittenFile> {
    const compression = sniffCompression(head);
    if (compression === 'gzip') return { storedPath, ...(await this.sha256AndSize(storedPath)) };
    return { storedPath, ...digest, compression };
  }

  /** Creates `base/seg1/seg2…` one level at a time; null when a level exists as something else. */
  private async ensureDir(base: string, segments: string[]): Promise<string | null> {
    let cur = base;
    for (const seg of segments) {
      cur = join(cur, seg);
      try {
        await mkdir(cur);
      } catch (e) {
        if (codeOf(e) !== 'EEXIST') throw e;
      }
      const st = await lstat(cur);
      if (!st.isDirectory()) return null;
    }
    return cur;
  }

  /** Directory and file name in `target` for an original name; flattens when a sub-folder is blocked. */
  private async destinationFor(target: FinishTarget, originalName: string): Promise<{ dir: string; name: string }> {
    const segments = sanitizeSegments(originalName);
    const base = this.areaPath(target);
    const dir = await this.ensureDir(base, segments.slice(0, -1));
    if (dir) return { dir, name: segments[segments.length - 1] };
    return { dir: base, name: segments.join('__') };
  }

  private async sameFile(path: string, st: Stats): Promise<boolean> {
    const other = await lstatOrNull(path);
    return !!other && other.isFile() && other.ino === st.ino && other.dev === st.dev;
  }

  /**
   * Moves a stored file from processing/ into processed/ or quarantine/ under its original relative name
   * (sub-folders created one safe level at a time). On a name collision the file id is inserted before the
   * extension (`name.<fileId>.csv`), then a counter. The move never overwrites: a hard link (fails if the
   * name exists) then unlink of the source. Quarantine also writes `<name>.error.json` atomically beside
   * it. Repeating a move is a success: a source already linked to its destination, or a source already
   * gone with its destination present. Returns the new stored path.
   */
  async finish(storedPath: string, target: FinishTarget, originalName: string, errorJson?: unknown, opts: FinishOptions = {}): Promise<string> {
    await this.init();
    const src = this.storedAbs(storedPath, ['processing']);
    await this.assertRealDir(dirname(src));
    const token = parseStoredName(basename(src))?.fileId ?? createHash('sha1').update(storedPath).digest('hex').slice(0, 12);
    const { dir, name } = await this.destinationFor(target, originalName);
    const candidate = (i: number) => (i === 0 ? name : i === 1 ? withSuffix(name, token) : withSuffix(name, `${token}.${i - 1}`));

    const st = await lstatOrNull(src);
    let dest: string | undefined;
    if (!st) {
      dest = await this.findFinished(dir, candidate, opts.sha256);
      if (!dest) throw new StorageException('missing', `${storedPath} is gone and no ${target}/ copy of ${JSON.stringify(originalName)} was found`);
    } else {
      if (!st.isFile()) throw new StorageException('not_regular_file', `${storedPath} is a ${entryType(st)}, not a regular file`);
      dest = await this.linkNoClobber(src, st, dir, candidate, target === 'quarantine');
      await fsyncDir(dir);
      await fsyncDir(dirname(src));
    }
    if (target === 'quarantine' && errorJson !== undefined) await this.writeJsonAtomic(`${dest}.error.json`, errorJson);
    return this.rootRelative(dest);
  }

  private async linkNoClobber(src: string, st: Stats, dir: string, candidate: (i: number) => string, withSidecar: boolean): Promise<string> {
    for (let i = 0; i <= MAX_COLLISIONS; i++) {
      const dest = join(dir, candidate(i));
      const ours = await this.sameFile(dest, st);
      if (!ours && withSidecar && (await lstatOrNull(`${dest}.error.json`))) continue;
      if (!ours) {
        try {
          await link(src, dest);
        } catch (e) {
          if (codeOf(e) === 'EEXIST') continue;
          if (!HARD_LINK_UNSUPPORTED.has(codeOf(e) ?? '')) throw e;
          // No hard links here: check then rename (a tiny window in which a same-named file could be replaced).
          if (await lstatOrNull(dest)) continue;
          await rename(src, dest);
          return dest;
        }
      }
      await unlink(src).catch((e: unknown) => {
        if (codeOf(e) !== 'ENOENT') throw e;
      });
      return dest;
    }
    throw new StorageException('unsafe_path', `more than ${MAX_COLLISIONS} files named like ${candidate(0)} in ${dir}`);
  }

  /** Where an earlier, interrupted move put the file: a name with our token, or the plain name (checked by hash when known). */
  private async findFinished(dir: string, candidate: (i: number) => string, sha256?: string): Promise<string | undefined> {
    for (let i = 1; i <= MAX_COLLISIONS; i++) {
      const path = join(dir, candidate(i));
      const st = await lstatOrNull(path);
      if (st?.isFile()) return path;
      if (!st && i > 1) break;
    }
    const plain = join(dir, candidate(0));
    const st = await lstatOrNull(plain);
    if (!st?.isFile()) return undefined;
    if (!sha256) return plain;
    const { sha256: actual } = await this.hashStream(this.openRead(this.rootRelative(plain)));
    return actual === sha256 ? plain : undefined;
  }

  /** temp file (O_EXCL|O_NOFOLLOW) + fsync + rename + fsync of the directory. */
  private async writeJsonAtomic(path: string, data: unknown): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      await fh.writeFile(JSON.stringify(data, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fsyncDir(dirname(path));
  }

  /**
   * Moves something that is not a regular file (symlink, FIFO, socket, device) out of incoming/ or
   * processing/ into quarantine/ as-is: rename moves the entry itself and never follows or opens it.
   * Beside it, `<name>.error.json` says what it was and why. Null when it is already gone.
   */
  async quarantineIrregular(rootRelativePath: string, reason: string): Promise<IrregularQuarantine | null> {
    await this.init();
    const abs = this.storedAbs(rootRelativePath, ['incoming', 'processing']);
    try {
      await this.assertRealDir(dirname(abs));
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return null;
      throw e;
    }
    const st = await lstatOrNull(abs);
    if (!st) return null;
    const type = entryType(st);
    if (type === 'file' || type === 'directory') throw new StorageException('not_regular_file', `${rootRelativePath} is a ${type}; only irregular entries are quarantined this way`);
    const [area, ...rest] = toSafeRelative(rootRelativePath).split('/');
    const originalName = area === 'processing' ? (parseStoredName(rest.join('/'))?.originalBasename ?? rest.join('/')) : rest.join('/');
    const { dir, name } = await this.destinationFor('quarantine', originalName);
    for (let i = 0; i <= MAX_COLLISIONS; i++) {
      const dest = join(dir, i === 0 ? name : withSuffix(name, randomBytes(4).toString('hex')));
      if ((await lstatOrNull(dest)) || (await lstatOrNull(`${dest}.error.json`))) continue;
      try {
        await rename(abs, dest);
      } catch (e) {
        if (codeOf(e) === 'ENOENT') return null;
        throw e;
      }
      await this.writeJsonAtomic(`${dest}.error.json`, {
        rule: 'not_regular_file',
        type,
        message: reason,
        originalName,
        quarantinedAt: new Date().toISOString(),
      });
      return { storedPath: this.rootRelative(dest), type };
    }
    throw new StorageException('unsafe_path', `more than ${MAX_COLLISIONS} entries named like ${name} in quarantine/`);
  }

  /**
   * Brings a finished file (in processed/ or quarantine/) back into `processing/<fileId>__<basename>` for a
   * replay, as a hard link: the original stays until the caller has recorded the new place
   * (`releaseRestored`), so a crash in between leaves the file reachable from whichever path the ledger
   * names. Repeating it is a success (the destination already links the same file). A file already in
   * processing/ is returned as it is.
   */
  async restore(storedPath: string, fileId: string): Promise<{ storedPath: string; previous: string | null }> {
    await this.init();
    if (!UUID.test(fileId)) throw new StorageException('unsafe_path', `file id ${JSON.stringify(fileId)} is not a UUID`);
    const rel = toSafeRelative(storedPath);
    if (rel.startsWith('processing/')) {
      await this.stat(rel);
      return { storedPath: rel, previous: null };
    }
    const src = this.storedAbs(rel, ['processed', 'quarantine']);
    await this.assertRealDir(dirname(src));
    const st = await lstatOrNull(src);
    if (!st) throw new StorageException('missing', `${storedPath} does not exist`);
    if (!st.isFile()) throw new StorageException('not_regular_file', `${storedPath} is a ${entryType(st)}, not a regular file`);
    const name = `${fileId.toLowerCase()}__${sanitizeSegments(basename(src)).at(-1) ?? 'unnamed'}`;
    const dest = join(this.areaPath('processing'), name);
    if (!(await this.sameFile(dest, st))) {
      try {
        await link(src, dest);
      } catch (e) {
        if (codeOf(e) === 'EEXIST') throw new StorageException('unsafe_path', `processing/${name} already exists and is another file`);
        throw e;
      }
    }
    await fsyncDir(this.areaPath('processing'));
    return { storedPath: `processing/${name}`, previous: rel };
  }

  /** Second half of `restore`: removes the old name (and a quarantine sidecar) once the ledger points at the new one. */
  async releaseRestored(previous: string): Promise<void> {
    await this.init();
    const abs = this.storedAbs(previous, ['processed', 'quarantine']);
    await this.assertRealDir(dirname(abs));
    const st = await lstatOrNull(abs);
    if (st?.isFile()) await unlink(abs);
    if (previous.startsWith('quarantine/')) {
      const sidecar = await lstatOrNull(`${abs}.error.json`);
      if (sidecar?.isFile()) await unlink(`${abs}.error.json`);
    }
    await fsyncDir(dirname(abs));
  }

  /**
   * Writes new content straight into processing/ as `<fileId>__<name>` (the ingest API): a hidden temp
   * file (O_EXCL|O_NOFOLLOW, ignored by the watcher) is written and hashed chunk by chunk, fsynced, then
   * renamed into place. The directory entry is made durable by `syncArea('processing')`, which callers
   * batch over many writes. Over `maxBytes` the temp file is removed and `too_large` thrown.
   */
  async writeProcessing(fileId: string, name: string, source: Buffer | AsyncIterable<Buffer | string>, maxBytes = Number.MAX_SAFE_INTEGER): Promise<WrittenFile> {
    await this.init();
    if (!UUID.test(fileId)) throw new StorageException('unsafe_path', `file id ${JSON.stringify(fileId)} is not a UUID`);
    const dir = this.areaPath('processing');
    const final = `${fileId.toLowerCase()}__${sanitizeSegments(name).at(-1) ?? 'unnamed'}`;
    const tmp = join(dir, `.${fileId.toLowerCase()}.${randomBytes(4).toString('hex')}.tmp`);
    if (Buffer.isBuffer(source) && source.length <= SYNC_WRITE_MAX_BYTES) return this.writeSmall(tmp, join(dir, final), `processing/${final}`, source);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    const hash = createHash('sha256');
    let size = 0;
    let closed = false;
    let head = Buffer.alloc(0);
    try {
      const chunks: AsyncIterable<Buffer | string> | Buffer[] = Buffer.isBuffer(source) ? [source] : source;
      for await (const chunk of chunks) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (head.length < 4) head = Buffer.concat([head, buf.subarray(0, 4 - head.length)]);
        size += buf.length;
        if (size > maxBytes) throw new StorageException('too_large', `more than ${maxBytes} bytes`);
        hash.update(buf);
        await writeAll(fh, buf);
      }
      await fh.sync();
      closed = true;
      await fh.close();
      await rename(tmp, join(dir, final));
    } catch (e) {
      if (!closed) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return this.written(`processing/${final}`, head, { sha256: hash.digest('hex'), size });
  }

  /**
   * A small payload in one buffer: open, write, close and rename run on the calling thread (microseconds
   * each); only the fsync goes to the thread pool: one pool round trip per payload instead of five.
   */
  private async writeSmall(tmp: string, final: string, storedPath: string, data: Buffer): Promise<WrittenFile> {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    let closed = false;
    try {
      for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
      await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
      closed = true;
      closeSync(fd);
      renameSync(tmp, final);
    } catch (e) {
      if (!closed) closeSync(fd);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return this.written(storedPath, data.subarray(0, 4), { sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
  }

  /** fsync of one area's directory: makes the renames into it durable (one call covers many files). */
  async syncArea(area: DropArea): Promise<void> {
    await this.init();
    await fsyncDir(this.areaPath(area));
  }

  /** Removes a file this process wrote to processing/ and never registered (e.g. a lost idempotency race). */
  async discardProcessing(storedPath: string): Promise<void> {
    const abs = this.storedAbs(storedPath, ['processing']);
    await this.assertRealDir(dirname(abs));
    await unlink(abs).catch((e: unknown) => {
      if (codeOf(e) !== 'ENOENT') throw e;
    });
  }

  /** Top-level entries of processing/ with the file id parsed from `<fileId>__<basename>`. */
  async listProcessing(): Promise<ProcessingEntry[]> {
    await this.init();
    const dir = this.areaPath('processing');
    const out: ProcessingEntry[] = [];
    for (const name of await readdir(dir)) {
      const st = await lstatOrNull(join(dir, name));
      if (!st) continue;
      const parsed = parseStoredName(name);
      out.push({
        storedPath: `processing/${name}`,
        name,
        fileId: parsed?.fileId ?? null,
        originalBasename: parsed?.originalBasename ?? null,
        type: entryType(st),
        size: st.size,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
      });
    }
    return out;
  }
}
