import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DropAreas, parseStoredName, type OutcomeTarget } from './drop-areas';
import { codeOf, fsyncDir, lstatOrNull, MAX_COLLISIONS, sameFile, writeJsonAtomic } from './drop-fs.util';
import { entryType, toSafeRelative, withSuffix } from './path-safety.util';
import { StorageException } from './storage.exception';

export interface FilingOptions {
  /**
   * Content hash of the file. Used only when the source is already gone (a retried move) to prove that
   * a destination with the plain name is this file and not another one with the same name.
   */
  sha256?: string;
}

/** What removing a filed file found: whether anything was there, and the bytes it held (with its `.error.json`). */
export interface FiledRemoval {
  found: boolean;
  bytes: number;
}

const HARD_LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Where a file goes once its outcome is known (processing/ → processed/ or quarantine/), and back again
 * for a replay. Every move is safe to repeat and never overwrites another file.
 */
@Injectable()
export class OutcomeFiling extends DropAreas {
  /**
   * Moves a stored file from processing/ into processed/ or quarantine/ under its original relative name
   * (sub-folders created one safe level at a time). On a name collision the file id is inserted before the
   * extension (`name.<fileId>.csv`), then a counter. The move never overwrites: a hard link (fails if the
   * name exists) then unlink of the source. Quarantine also writes `<name>.error.json` atomically beside
   * it. Repeating a move is a success: a source already linked to its destination, or a source already
   * gone with its destination present. Returns the new stored path.
   */
  async fileOutcome(storedPath: string, target: OutcomeTarget, originalName: string, errorJson?: unknown, opts: FilingOptions = {}): Promise<string> {
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
    if (target === 'quarantine' && errorJson !== undefined) await writeJsonAtomic(`${dest}.error.json`, errorJson);
    return this.rootRelative(dest);
  }

  private async linkNoClobber(src: string, st: Stats, dir: string, candidate: (i: number) => string, withSidecar: boolean): Promise<string> {
    for (let i = 0; i <= MAX_COLLISIONS; i++) {
      const dest = join(dir, candidate(i));
      const ours = await sameFile(dest, st);
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

  /**
   * Brings a finished file (in processed/ or quarantine/) back into `processing/<fileId>__<basename>` for a
   * replay, as a hard link: the original stays until the caller has recorded the new place
   * (`releaseRestored`), so a crash in between leaves the file reachable from whichever path the ledger
   * names. Repeating it is a success (the destination already links the same file). A file already in
   * processing/ is returned as it is.
   */
  async restore(storedPath: string, fileId: string): Promise<{ storedPath: string; previous: string | null }> {
    await this.init();
    this.assertFileId(fileId);
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
    const name = this.storedNameFor(fileId, basename(src));
    const dest = join(this.areaPath('processing'), name);
    if (!(await sameFile(dest, st))) {
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
   * Undoes `restore` for a replay that did not go ahead because retention removed the file meanwhile: removes
   * the new name in processing/, the file's last copy, which nothing will read. A name already gone is fine.
   */
  async discardRestored(storedPath: string): Promise<void> {
    await this.init();
    const abs = this.storedAbs(storedPath, ['processing']);
    if (!(await this.realDirExists(dirname(abs)))) return;
    const st = await lstatOrNull(abs);
    if (!st?.isFile()) return;
    await unlink(abs).catch((e: unknown) => {
      if (codeOf(e) !== 'ENOENT') throw e;
    });
    await fsyncDir(dirname(abs));
  }

  /**
   * Removes a finished file from processed/ or quarantine/ (retention), with its `<name>.error.json` in
   * quarantine/. Only a path inside those two areas is accepted, every directory on the way must be a real
   * one, and the entry itself is unlinked, never followed (an irregular entry moved there as-is goes the same
   * way; a directory is refused). A file already gone is `found: false`, not an error. `dryRun` measures what
   * would go and removes nothing.
   */
  async removeFiled(storedPath: string, opts: { dryRun?: boolean } = {}): Promise<FiledRemoval> {
    await this.init();
    const rel = toSafeRelative(storedPath);
    const abs = this.storedAbs(rel, ['processed', 'quarantine']);
    if (!(await this.realDirExists(dirname(abs)))) return { found: false, bytes: 0 };
    const entries = [abs, ...(rel.startsWith('quarantine/') ? [`${abs}.error.json`] : [])];
    let found = false;
    let bytes = 0;
    for (const path of entries) {
      const st = await lstatOrNull(path);
      if (!st) continue;
      if (st.isDirectory()) throw new StorageException('not_regular_file', `${this.rootRelative(path)} is a directory, not a filed file`);
      if (path === abs) found = true;
      bytes += st.size;
      if (opts.dryRun) continue;
      await unlink(path).catch((e: unknown) => {
        if (codeOf(e) !== 'ENOENT') throw e;
      });
    }
    if (!opts.dryRun) await fsyncDir(dirname(abs));
    return { found, bytes };
  }
}
