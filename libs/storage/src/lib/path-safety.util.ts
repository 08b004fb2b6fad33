import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { StorageException } from './storage.exception';

const IGNORED_SUFFIXES = ['.part', '.tmp', '.crdownload'];
/** Longest name segment we create, in bytes (file systems allow 255; leave room for suffixes). */
const MAX_SEGMENT_BYTES = 160;
const MAX_DEPTH = 16;

/** Names writers use while a file is still being written, and hidden files. */
export function isIgnoredName(name: string): boolean {
  if (name.startsWith('.')) return true;
  const lower = name.toLowerCase();
  return IGNORED_SUFFIXES.some((s) => lower.endsWith(s));
}

/** True when any segment of a relative path is ignored (a dot-folder hides everything below it). */
export function isIgnoredPath(relativePath: string): boolean {
  return relativePath.split(/[\\/]+/).some((s) => s !== '' && isIgnoredName(s));
}

/**
 * Strict check of a relative path we will touch: no absolute path, no `.`/`..`/empty segment, no NUL.
 * Returns it with `/` separators. Throws `unsafe_path` rather than guessing.
 */
export function toSafeRelative(path: string): string {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) throw new StorageException('unsafe_path', `unsafe path ${JSON.stringify(path)}`);
  if (isAbsolute(path) || path.startsWith('/') || path.startsWith('\\')) throw new StorageException('unsafe_path', `absolute path ${JSON.stringify(path)} not allowed`);
  const segments = path.split(sep === '/' ? '/' : /[\\/]/);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new StorageException('unsafe_path', `path ${JSON.stringify(path)} has an empty, . or .. segment`);
  return segments.join('/');
}

/** Resolves `rel` under `root` and proves the result stays inside it. */
export function resolveInside(root: string, rel: string): string {
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith('..') || isAbsolute(back)) throw new StorageException('unsafe_path', `path ${JSON.stringify(rel)} leaves ${root}`);
  return abs;
}

function capBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
  let stem = s.slice(0, s.length - ext.length);
  const tag = '~' + createHash('sha1').update(s).digest('hex').slice(0, 8);
  while (stem.length > 0 && Buffer.byteLength(stem + tag + ext) > max) stem = stem.slice(0, -1);
  return stem + tag + ext;
}

/**
 * Turns a name from outside (a writer's relative path, an upload's file name) into safe segments for a
 * destination: separators split, `.`/`..`/empty dropped, control characters replaced, long segments
 * shortened, depth capped. Never throws: a file must always reach its terminal folder.
 */
export function sanitizeSegments(name: string): string[] {
  const segments = String(name)
    .split(/[\\/]+/)
    // eslint-disable-next-line no-control-regex
    .map((s) => s.replace(/[\u0000-\u001f\u007f]/g, '_').trim())
    .filter((s) => s !== '' && s !== '.' && s !== '..')
    .map((s) => capBytes(s, MAX_SEGMENT_BYTES));
  if (segments.length === 0) return ['unnamed'];
  if (segments.length > MAX_DEPTH) return [...segments.slice(0, MAX_DEPTH - 1), segments.slice(MAX_DEPTH - 1).join('_')];
  return segments;
}

/** `name.csv` + token → `name.<token>.csv` (dotfiles and extensionless names get the token at the end). */
export function withSuffix(name: string, token: string): string {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${name}.${token}`;
  return `${name.slice(0, dot)}.${token}${name.slice(dot)}`;
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'block-device' | 'char-device' | 'unknown';

export function entryType(st: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice'>): EntryType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isCharacterDevice()) return 'char-device';
  return 'unknown';
}
