import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, open, readdir, readFile, readlink, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { DropAreas } from './drop-areas';
import { codeOf, fsyncDir, lstatOrNull, toPosix } from './drop-fs.util';
import { entryType, resolveInside, toSafeRelative } from './path-safety.util';
import { StorageException } from './storage.exception';

export interface ClaimResult {
  /** Relative to the drop folder root: `processing/<fileId>__<basename>`. */
  storedPath: string;
}

/** Access mode bits of the `flags:` line of /proc/<pid>/fdinfo/<fd> (O_WRONLY = 1, O_RDWR = 2). */
const O_ACCMODE = 3;

/**
 * The watcher's side of the drop folder: takes files from incoming/ into processing/ and makes sure the
 * bytes it registers are its own and complete (no other hard link, no writer still holding them open).
 */
@Injectable()
export class DropClaims extends DropAreas {
  /**
   * Claims `incoming/<relativeIncomingPath>` by an atomic rename to `processing/<fileId>__<basename>`.
   * Null when the file is gone (another watcher won the rename). Throws `not_regular_file` for anything
   * but a regular file: rename would move a symlink itself, but a symlink must not enter processing/.
   */
  async claim(relativeIncomingPath: string, fileId: string): Promise<ClaimResult | null> {
    await this.init();
    this.assertFileId(fileId);
    const src = resolveInside(this.areaPath('incoming'), toSafeRelative(relativeIncomingPath));
    if (!(await this.realDirExists(dirname(src)))) return null;
    const st = await lstatOrNull(src);
    if (!st) return null;
    if (!st.isFile()) throw new StorageException('not_regular_file', `incoming/${relativeIncomingPath} is a ${entryType(st)}, not a regular file`);
    const name = this.storedNameFor(fileId, basename(src));
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
}
