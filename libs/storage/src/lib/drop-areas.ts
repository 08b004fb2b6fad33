import { Injectable, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, realpathSync, type ReadStream, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { contentDigest, DEFAULT_DECOMPRESSION_LIMITS, type ContentDigest, type DecompressionLimits } from '@sluice/formats';
import { codeOf, ensureDir, fsyncDir, lstatOrNull, MAX_COLLISIONS, toPosix, writeJsonAtomic } from './drop-fs.util';
import { entryType, isIgnoredName, resolveInside, sanitizeSegments, toSafeRelative, withSuffix, type EntryType } from './path-safety.util';
import { StorageException } from './storage.exception';

export const DROP_AREAS = ['incoming', 'processing', 'processed', 'quarantine'] as const;
export type DropArea = (typeof DROP_AREAS)[number];
export type OutcomeTarget = 'processed' | 'quarantine';

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
/** Directory levels below incoming/ that are watched and scanned (chokidar's `depth` uses the same). */
export const MAX_WALK_DEPTH = 32;

/** `<fileId>__<basename>` → its parts; null for any other name. */
export function parseStoredName(name: string): { fileId: string; originalBasename: string } | null {
  const m = STORED_NAME.exec(name);
  return m ? { fileId: m[1].toLowerCase(), originalBasename: m[2] } : null;
}

/**
 * The drop folder (SPEC §3): `incoming/ processing/ processed/ quarantine/` under one root, and what every
 * app may do there: find, list and read files, and move an entry that is not a regular file aside. The
 * slices that change files (DropClaims, OutcomeFiling, UploadWriter) build on it. Every path is resolved
 * under the root and checked to stay there; every directory on the way must be a real directory (its
 * realpath is itself, so no symlinked parent); the last component is inspected with lstat and opened with
 * O_NOFOLLOW, then fstat proves it is a regular file. Names from outside are only ever sanitised into
 * destination names, never used as paths.
 */
@Injectable()
export class DropAreas implements OnModuleInit {
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

  protected get base(): string {
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

  protected assertFileId(fileId: string): void {
    if (!UUID.test(fileId)) throw new StorageException('unsafe_path', `file id ${JSON.stringify(fileId)} is not a UUID`);
  }

  /** A stored path (`<area>/<…>`) checked and made absolute. */
  protected storedAbs(storedPath: string, areas: readonly DropArea[] = DROP_AREAS): string {
    const rel = toSafeRelative(storedPath);
    const [area, ...rest] = rel.split('/');
    if (!areas.includes(area as DropArea) || rest.length === 0) {
      throw new StorageException('unsafe_path', `stored path ${JSON.stringify(storedPath)} is not inside ${areas.join('/ or ')}/`);
    }
    return resolveInside(this.base, rel);
  }

  protected rootRelative(abs: string): string {
    return toPosix(relative(this.base, abs));
  }

  /** Every directory from the root down to `dir` is a real directory (no symlink on the way). */
  protected async assertRealDir(dir: string): Promise<void> {
    const real = await realpath(dir);
    if (real !== dir) throw new StorageException('unsafe_directory', `${dir} goes through a symlink`);
  }

  /** As assertRealDir, but false when `dir` no longer exists (its entry was taken or removed meanwhile). */
  protected async realDirExists(dir: string): Promise<boolean> {
    try {
      await this.assertRealDir(dir);
      return true;
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return false;
      throw e;
    }
  }

  private assertRealDirSync(dir: string): void {
    if (realpathSync(dir) !== dir) throw new StorageException('unsafe_directory', `${dir} goes through a symlink`);
  }

  /** lstat of a path under incoming/ (never follows it); null when it is gone. */
  async statIncoming(relativeIncomingPath: string): Promise<Stats | null> {
    await this.init();
    const abs = resolveInside(this.areaPath('incoming'), toSafeRelative(relativeIncomingPath));
    if (!(await this.realDirExists(dirname(abs)))) return null;
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

  protected hashStream(stream: ReadStream): Promise<ContentDigest> {
    return contentDigest(stream, this.limits);
  }

  /** fsync of one area's directory: makes the renames into it durable (one call covers many files). */
  async syncArea(area: DropArea): Promise<void> {
    await this.init();
    await fsyncDir(this.areaPath(area));
  }

  /**
   * Moves something that is not a regular file (symlink, FIFO, socket, device) out of incoming/ or
   * processing/ into quarantine/ as-is: rename moves the entry itself and never follows or opens it.
   * Beside it, `<name>.error.json` says what it was and why. Null when it is already gone.
   */
  async quarantineIrregular(rootRelativePath: string, reason: string): Promise<IrregularQuarantine | null> {
    await this.init();
    const abs = this.storedAbs(rootRelativePath, ['incoming', 'processing']);
    if (!(await this.realDirExists(dirname(abs)))) return null;
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
      await writeJsonAtomic(`${dest}.error.json`, {
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

  /** Directory and file name in `target` for an original name; flattens when a sub-folder is blocked. */
  protected async destinationFor(target: OutcomeTarget, originalName: string): Promise<{ dir: string; name: string }> {
    const segments = sanitizeSegments(originalName);
    const base = this.areaPath(target);
    const dir = await ensureDir(base, segments.slice(0, -1));
    if (dir) return { dir, name: segments[segments.length - 1] };
    return { dir: base, name: segments.join('__') };
  }

  /** `<fileId>__<name>`: how a file is named in processing/ (the last segment of `name`, sanitised). */
  protected storedNameFor(fileId: string, name: string): string {
    return `${fileId.toLowerCase()}__${sanitizeSegments(name).at(-1) ?? 'unnamed'}`;
  }
}
