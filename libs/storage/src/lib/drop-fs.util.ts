// File-system steps shared by the drop folder's slices (not exported from the lib).
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';

/** Names tried before a move into processed/ or quarantine/ gives up. */
export const MAX_COLLISIONS = 50;

export const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
export const toPosix = (p: string) => p.split(sep).join('/');

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (e) {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return null;
    throw e;
  }
}

export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) offset += (await fh.write(buf, offset, buf.length - offset)).bytesWritten;
}

/** Best effort: makes a rename or link in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
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

/** temp file (O_EXCL|O_NOFOLLOW) + fsync + rename + fsync of the directory. */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
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

/** Creates `base/seg1/seg2…` one level at a time; null when a level exists as something else. */
export async function ensureDir(base: string, segments: string[]): Promise<string | null> {
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

/** Whether `path` is a regular file with the same inode as `st`. */
export async function sameFile(path: string, st: Stats): Promise<boolean> {
  const other = await lstatOrNull(path);
  return !!other && other.isFile() && other.ino === st.ino && other.dev === st.dev;
}
