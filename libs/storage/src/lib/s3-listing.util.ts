import type { S3Source } from '@sluice/config';
import { isIgnoredPath } from './path-safety.util';
import type { ListedObject, ObjectPage } from './s3-object-store';

/** Where a listing pass stands: the key it continues after (null: from the start) and the passes completed. */
export interface ListingPosition {
  startAfter: string | null;
  generation: number;
}

export const ERROR_REPORT_SUFFIX = '.error.json';

/**
 * Objects of a page that are data to claim: not a folder marker, an error report we wrote, a partial upload
 * name, or an object under the source's own move/quarantine prefixes (which may lie inside the listed prefix).
 */
export function claimableObjects(source: S3Source, objects: readonly ListedObject[]): ListedObject[] {
  const own = [source.moveTo, source.quarantineTo].filter((p): p is string => !!p);
  return objects.filter((o) => !o.key.endsWith('/') && !o.key.endsWith(ERROR_REPORT_SUFFIX) && !isIgnoredPath(o.key) && !own.some((p) => o.key.startsWith(p)));
}

/**
 * Claim order within a page: sensor mappings first, so that names usually exist before readings arrive (SPEC
 * §4.1 keeps the result the same in any order); then key order, as listed.
 */
export function claimOrder<T extends ListedObject>(objects: readonly T[]): T[] {
  return [...objects.filter(isMappingObject), ...objects.filter((o) => !isMappingObject(o))];
}

/** A sensor mapping by its key: under a `mapping/` folder or named `mapping.csv`. */
export function isMappingObject(o: ListedObject): boolean {
  return /(^|\/)mapping(\/|\.csv$)/i.test(o.key);
}

/** The position after a page: on after its last key, or, at the end of the listing, a new pass from the start. */
export function nextPosition(at: ListingPosition, page: ObjectPage): ListingPosition {
  const last = page.objects.at(-1)?.key;
  if (page.truncated && last !== undefined) return { startAfter: last, generation: at.generation };
  return { startAfter: null, generation: at.generation + 1 };
}
