import { basename, matchesGlob } from 'node:path';
import type { ContractVersion } from '../contract';

/** Where a file or body came from, as much as a contract's `inputs` can ask of it. */
export type ContractInput =
  /** A file of the drop folder: its path under `incoming/` (`site-a/weather_2024-03-31.csv`). */
  | { source: 'dropzone'; path: string }
  /** An object of an object store: the source's S3_SOURCES name and the object's key. */
  | { source: 's3'; s3Source: string; key: string }
  /** A file uploaded to `POST /ingest/files` (its file name), or a body of `POST /ingest` naming a `kind`. */
  | { source: 'api'; path: string; kind?: string };

/**
 * Whether a contract takes an input. Every location field the contract sets must hold, and at least one of them
 * must apply to the input's source: `glob` (the file name, not the path), `folder` (the first folder under
 * `incoming/`), `s3` (source and key prefix), `kind` (the kind a body names). A contract that sets only `s3` takes
 * no file of the drop folder, one that sets only `folder` no object.
 */
export function takes(version: ContractVersion, input: ContractInput): boolean {
  const { glob, folder, s3, kind } = version.contract.inputs;
  if (input.source === 'api' && input.kind !== undefined) return kind === input.kind;
  const path = input.source === 's3' ? input.key : input.path;
  const name = basename(path);
  const globHolds = glob === undefined || matchesGlob(name, glob);
  switch (input.source) {
    case 'dropzone': {
      const first = path.includes('/') ? path.slice(0, path.indexOf('/')) : null;
      return (glob !== undefined || folder !== undefined) && globHolds && (folder === undefined || first === folder);
    }
    case 's3':
      return (glob !== undefined || s3 !== undefined) && globHolds && (s3 === undefined || (s3.source === input.s3Source && input.key.startsWith(s3.prefix)));
    case 'api':
      return glob !== undefined && globHolds;
  }
}

/** The contracts in force that take an input, by name. More than one is an ambiguity the caller reports. */
export function contractsTaking(versions: readonly ContractVersion[], input: ContractInput): ContractVersion[] {
  return versions.filter((v) => takes(v, input)).sort((a, b) => a.contract.name.localeCompare(b.contract.name));
}
