/**
 * The ledger's stored_path of one version of an object-store object: `s3/<source>/<bucket>/<etag>/<key>`.
 * Source names, bucket names and ETags hold no `/`, so the key (which may) is the rest; the ETag (without
 * its quotes) pins the version the processor must read. No drop-folder area has this name.
 */
export const OBJECT_STORE_AREA = 's3';

export interface ObjectLocation {
  source: string;
  bucket: string;
  key: string;
  /** As listed, quotes included. */
  etag: string;
}

const unquote = (etag: string) => etag.replace(/^"|"$/g, '');

export function objectStoredPath(loc: ObjectLocation): string {
  return `${OBJECT_STORE_AREA}/${loc.source}/${loc.bucket}/${unquote(loc.etag)}/${loc.key}`;
}

export function isStoredInObjectStore(storedPath: string): boolean {
  return storedPath.startsWith(`${OBJECT_STORE_AREA}/`);
}

export function parseObjectStoredPath(storedPath: string): ObjectLocation | null {
  const m = /^s3\/([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/s.exec(storedPath);
  return m ? { source: m[1], bucket: m[2], etag: `"${m[3]}"`, key: m[4] } : null;
}

/** How an object is shown to people (ledger original_name, /files, CLI): `s3://bucket/key`. */
export function objectDisplayName(loc: Pick<ObjectLocation, 'bucket' | 'key'>): string {
  return `s3://${loc.bucket}/${loc.key}`;
}
