import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { ContractProblem, ContractVersion } from '../contract';
import { contractNameOf, contractSizeProblem, isContractFileName, MAX_CONTRACT_BYTES, readContract, type ReadContractResult } from './read-contract';

/** Contract files read from one folder; more are refused, so a stray folder cannot make a refresh read without end. */
export const MAX_CONTRACT_FILES = 1_000;

/** What a `refresh()` changed in the contracts in force. */
export interface CatalogChanges {
  /** Contracts that had no version in force and now have one. */
  added: ContractVersion[];
  /** Contracts whose version in force was replaced by a newer one. */
  updated: ContractVersion[];
  /** Contracts whose file is gone: the version that was in force until now. */
  removed: ContractVersion[];
  /** Files read this time (new or changed) and refused, alone or as one of two files for a name; `problems()` says why. */
  refused: string[];
}

/** What the catalog last read from one file, and how it recognises the file unchanged. */
interface FileEntry {
  /** Size, times and inode: equal means the file was not touched, so it is not read again. */
  stamp: string;
  /** sha256 of the bytes read, when they were read. */
  hash?: string;
  result: ReadContractResult;
}

/**
 * The contracts of one folder: every `*.yaml` / `*.yml` in it (not in subfolders; dotfiles and other files are
 * ignored). Per contract, the last version that was valid stays in force: a broken edit leaves the previous one in
 * place and is listed in `problems()`, and a contract that was never valid is absent, with its problems listed.
 * It is empty until the first `refresh()`; a folder that does not exist is an empty catalog.
 */
export class ContractCatalog {
  private readonly inForce = new Map<string, ContractVersion>();
  private files = new Map<string, FileEntry>();
  private currentProblems: ContractProblem[] = [];

  constructor(readonly folder: string) {}

  /** The contract `name` in force, if any. */
  get(name: string): ContractVersion | undefined {
    return this.inForce.get(name);
  }

  /** Every contract in force, by name. */
  all(): ContractVersion[] {
    return [...this.inForce.values()].sort((a, b) => a.contract.name.localeCompare(b.contract.name));
  }

  /** Why files of the folder are refused, as of the last `refresh()`: each file's problems, and what stays in force instead. */
  problems(): ContractProblem[] {
    return [...this.currentProblems];
  }

  /**
   * Reads the folder again and returns what changed. A file whose size and times are unchanged is not read again,
   * nor re-validated when its bytes are unchanged, so a refresh of an untouched folder costs a listing and a stat a file.
   */
  refresh(): CatalogChanges {
    const folderProblems: ContractProblem[] = [];
    const listing = this.list(folderProblems);
    if (listing === null) {
      // The folder exists but could not be read: nothing is known to be gone, so everything stays in force.
      this.currentProblems = [...folderProblems, ...this.currentProblems.filter((p) => p.file !== this.folder)];
      return { added: [], updated: [], removed: [], refused: [] };
    }

    const readAnew = new Set<string>();
    const files = new Map<string, FileEntry>();
    for (const path of listing) {
      const previous = this.files.get(path);
      const entry = this.readFile(path, previous);
      files.set(path, entry);
      if (entry.result !== previous?.result) readAnew.add(path);
    }
    this.files = files;

    const byName = new Map<string, string[]>();
    for (const path of listing) {
      const name = contractNameOf(path);
      byName.set(name, [...(byName.get(name) ?? []), path]);
    }
    const refused = listing.filter((path) => {
      const result = files.get(path)?.result;
      return readAnew.has(path) && ((result && 'problems' in result) || (byName.get(contractNameOf(path))?.length ?? 0) > 1);
    });

    const problems: ContractProblem[] = [...folderProblems];
    const next = new Map<string, ContractVersion>();
    for (const [name, paths] of byName) {
      const valid = paths.length === 1 ? this.files.get(paths[0])?.result : undefined;
      for (const path of paths) {
        const result = this.files.get(path)?.result;
        if (result && 'problems' in result) problems.push(...result.problems);
        if (paths.length > 1) {
          const others = paths.filter((p) => p !== path).join(', ');
          problems.push({ file: path, message: `${others} also defines the contract ${name}; keep one file per contract and remove the other` });
        }
      }
      if (valid && 'version' in valid) {
        next.set(name, valid.version);
        continue;
      }
      const kept = this.inForce.get(name);
      if (kept) {
        next.set(name, kept);
        problems.push({
          file: paths[0],
          message: `the contract ${name} stays at its last valid version (sha256 ${kept.hash.slice(0, 12)}, read from ${kept.file}) until the file is fixed`,
        });
      }
    }

    const changes: CatalogChanges = { added: [], updated: [], removed: [], refused };
    for (const [name, version] of next) {
      const before = this.inForce.get(name);
      if (!before) changes.added.push(version);
      else if (before.hash !== version.hash || before.file !== version.file) changes.updated.push(version);
    }
    for (const [name, version] of this.inForce) if (!next.has(name)) changes.removed.push(version);

    this.inForce.clear();
    for (const [name, version] of [...next].sort(([a], [b]) => a.localeCompare(b))) this.inForce.set(name, version);
    this.currentProblems = problems;
    return changes;
  }

  /** Paths of the folder's contract files, sorted; [] when the folder does not exist, null when it cannot be read. */
  private list(problems: ContractProblem[]): string[] | null {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.folder, { withFileTypes: true });
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return [];
      problems.push({ file: this.folder, message: `the contracts folder cannot be read (${errorCode(e) ?? 'error'}); its contracts stay as they were` });
      return null;
    }
    const paths = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && isContractFileName(e.name))
      .map((e) => join(this.folder, e.name))
      .sort();
    if (paths.length > MAX_CONTRACT_FILES) {
      problems.push({
        file: this.folder,
        message: `the contracts folder holds ${paths.length} contract files; only the first ${MAX_CONTRACT_FILES} (by name) are read`,
      });
      return paths.slice(0, MAX_CONTRACT_FILES);
    }
    return paths;
  }

  /** The file's entry: the previous one when the file is untouched (or its bytes are the same), else read anew. */
  private readFile(path: string, previous: FileEntry | undefined): FileEntry {
    const refused = (stamp: string, message: string): FileEntry =>
      previous?.stamp === stamp ? previous : { stamp, result: { problems: [{ file: path, message }] } };
    let stamp: string;
    let size: number;
    try {
      const stat = statSync(path);
      if (!stat.isFile()) return refused('not a file', 'it is not a regular file; a contract is one YAML file');
      size = stat.size;
      stamp = `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`;
    } catch (e) {
      return refused(`unreadable ${errorCode(e)}`, `the file cannot be read (${errorCode(e) ?? 'error'})`);
    }
    if (previous?.stamp === stamp) return previous;
    // Checked before reading, so an oversized file is never loaded into memory (readContract checks the bytes again).
    const tooLarge = contractSizeProblem(path, size);
    if (tooLarge) return { stamp, result: { problems: [tooLarge] } };

    let bytes: Buffer;
    try {
      bytes = readAtMost(path, MAX_CONTRACT_BYTES + 1);
    } catch (e) {
      return refused(stamp, `the file cannot be read (${errorCode(e) ?? 'error'})`);
    }
    // The file grew since its size was checked: refused as too large all the same, and read again when it changes.
    const grown = contractSizeProblem(path, bytes.length);
    if (grown) return { stamp, result: { problems: [grown] } };
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (previous?.hash === hash) return { ...previous, stamp };
    return { stamp, hash, result: readContract(path, bytes) };
  }
}

/** Up to `limit` bytes of the file, so a file that grows while it is read cannot make the read unbounded. */
function readAtMost(path: string, limit: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const n = readSync(fd, buffer, length, limit - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}
