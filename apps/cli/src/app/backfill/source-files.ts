import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { MAGIC_BYTES, sniffCompression, type ContentDigest } from '@sluice/formats';
import { type DropAreas, isIgnoredName, sanitizeSegments } from '@sluice/storage';

export interface SourceFile {
  abs: string;
  /** Relative to the backfilled folder, `/`-separated: the ledger's original name. */
  rel: string;
  size: number;
}

export interface WalkResult {
  files: SourceFile[];
  /** Entries not loaded and why (symlinks, devices, FIFOs are never followed or read). */
  skipped: { rel: string; why: string }[];
  ignored: number;
}

const MAX_DEPTH = 32;

/**
 * Every regular file under `root`, in name order, walking real directories only. Names the drop folder
 * ignores (`.part`, `.tmp`, `.crdownload`, dotfiles) are left out, as the watcher would leave them.
 */
export async function walkFolder(root: string): Promise<WalkResult> {
  const out: WalkResult = { files: [], skipped: [], ignored: 0 };
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of entries) {
      const abs = join(dir, d.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (isIgnoredName(d.name)) {
        out.ignored++;
        continue;
      }
      const st = await lstat(abs);
      if (st.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(abs, depth + 1);
        else out.skipped.push({ rel, why: `deeper than ${MAX_DEPTH} folders` });
      } else if (st.isFile()) out.files.push({ abs, rel, size: st.size });
      else out.skipped.push({ rel, why: st.isSymbolicLink() ? 'a symlink (never followed)' : 'not a regular file' });
    }
  };
  await walk(root, 0);
  return out;
}

/**
 * Copies a file into `processing/<fileId>__<name>` as the watcher's claim leaves it, hashing on the way:
 * written under a dotfile name (which the watcher ignores), fsynced, then renamed into place, so a
 * half-copied file is never seen. The source is opened without following symlinks and must be a regular file.
 */
export async function copyIntoProcessing(src: SourceFile, drop: DropAreas, fileId: string): Promise<ContentDigest & { storedPath: string }> {
  const dir = drop.areaPath('processing');
  const name = `${fileId}__${sanitizeSegments(basename(src.rel)).at(-1) ?? 'unnamed'}`;
  const tmp = join(dir, `.${fileId}.part`);
  const input = await open(src.abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await input.stat()).isFile()) throw new Error(`${src.rel} is not a regular file`);
    const output = await open(tmp, 'wx', 0o644);
    const hash = createHash('sha256');
    let size = 0;
    let head = Buffer.alloc(0);
    try {
      for await (const chunk of input.createReadStream({ autoClose: false, highWaterMark: 1024 * 1024 })) {
        const buf = chunk as Buffer;
        if (head.length < MAGIC_BYTES) head = Buffer.concat([head, buf.subarray(0, MAGIC_BYTES - head.length)]);
        hash.update(buf);
        size += buf.length;
        await output.write(buf);
      }
      await output.sync();
    } catch (e) {
      await output.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await output.close();
    await rename(tmp, join(dir, name));
    const storedPath = `processing/${name}`;
    const compression = sniffCompression(head);
    // A gzip file is known by its content (read once more, decompressed), as the watcher does.
    if (compression === 'gzip') return { storedPath, ...(await drop.sha256AndSize(storedPath)) };
    return { storedPath, sha256: hash.digest('hex'), size, compression };
  } finally {
    await input.close().catch(() => undefined);
  }
}
