/** S3-compatible object-store sources (SPEC §4.6): parsing of `S3_SOURCES` and of the seed's `MINIO_*` variables. */

export type AfterLoad = 'keep' | 'delete' | 'move';

export interface S3Source {
  /** Names the source in the ledger, logs and metrics; unique. */
  name: string;
  /** `http(s)://host:port` of an S3-compatible server; none means AWS S3 itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Only keys under this prefix are read ('' = the whole bucket). */
  prefix: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style addressing (`endpoint/bucket/key`), what MinIO and most self-hosted servers need. */
  pathStyle: boolean;
  /** What becomes of a loaded (or duplicate) object. */
  afterLoad: AfterLoad;
  /** With afterLoad `move`: the prefix loaded objects go under (their key appended). */
  moveTo?: string;
  /** Quarantined objects are copied under this prefix with their `.error.json`; unset: the report goes beside the object. */
  quarantineTo?: string;
}

/** The seed-004 variables, which define one source. */
export interface MinioVariables {
  MINIO_ENDPOINT?: string;
  MINIO_ACCESS_KEY?: string;
  MINIO_SECRET_KEY?: string;
  MINIO_BUCKET?: string;
}

export const DEFAULT_MINIO_BUCKET = 'sensors';
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
// S3's bucket naming rules (lower-case letters, digits, dots and hyphens; 3–63; letter or digit at both ends).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KNOWN_FIELDS = new Set(['name', 'endpoint', 'region', 'bucket', 'prefix', 'accessKey', 'secretKey', 'pathStyle', 'afterLoad', 'moveTo', 'quarantineTo']);

/** `host:9000` (the MinIO client's form) or a full URL → a URL with a scheme; throws if it is neither. */
export function endpointUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  const url = new URL(withScheme);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${text}" is not an http(s) endpoint`);
  return withScheme.replace(/\/+$/, '');
}

/** A prefix as stored: no leading slash; a non-empty one ends in `/` unless it is meant as a key prefix. */
function prefixOf(value: unknown, field: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new Error(`${field} must be a string`);
  return value.replace(/^\/+/, '');
}

function optionalString(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`${field} must be a non-empty string`);
  return v;
}

function parseEntry(raw: unknown): S3Source {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('must be an object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknown.length) throw new Error(`unknown field(s) ${unknown.join(', ')} (known: ${[...KNOWN_FIELDS].join(', ')})`);
  const bucket = o['bucket'];
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) throw new Error('bucket must be an S3 bucket name (3–63 lower-case letters, digits, dots, hyphens)');
  const name = optionalString(o, 'name') ?? bucket.replace(/\./g, '-').slice(0, 32);
  if (!NAME.test(name)) throw new Error(`name "${name}" must be 1–32 lower-case letters, digits, - or _`);
  const endpoint = optionalString(o, 'endpoint');
  const accessKeyId = optionalString(o, 'accessKey');
  const secretAccessKey = optionalString(o, 'secretKey');
  if (!accessKeyId !== !secretAccessKey) throw new Error('accessKey and secretKey go together (or neither, for the default AWS credential chain)');
  const pathStyle = o['pathStyle'] ?? endpoint !== undefined;
  if (typeof pathStyle !== 'boolean') throw new Error('pathStyle must be true or false');
  const afterLoad = o['afterLoad'] ?? 'keep';
  if (afterLoad !== 'keep' && afterLoad !== 'delete' && afterLoad !== 'move') throw new Error('afterLoad must be keep, delete or move');
  const prefix = prefixOf(o['prefix'], 'prefix');
  const moveTo = o['moveTo'] === undefined ? undefined : prefixOf(o['moveTo'], 'moveTo');
  if ((afterLoad === 'move') !== (moveTo !== undefined && moveTo !== '')) throw new Error('moveTo (a prefix) is required with afterLoad "move", and only then');
  const quarantineTo = o['quarantineTo'] === undefined ? undefined : prefixOf(o['quarantineTo'], 'quarantineTo');
  if (quarantineTo === '') throw new Error('quarantineTo must be a non-empty prefix (leave it out to write reports beside the objects)');
  return {
    name,
    endpoint: endpoint === undefined ? undefined : endpointUrl(endpoint),
    region: optionalString(o, 'region') ?? 'us-east-1',
    bucket,
    prefix,
    accessKeyId,
    secretAccessKey,
    pathStyle,
    afterLoad,
    moveTo,
    quarantineTo,
  };
}

/**
 * `S3_SOURCES` (a JSON array of sources, or one object) plus the source the `MINIO_*` variables define.
 * Throws an Error whose message names the variable and the entry at fault.
 */
export function parseS3Sources(text: string | undefined, minio: MinioVariables = {}): S3Source[] {
  const sources: S3Source[] = [];
  if (text !== undefined && text.trim() !== '') {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`S3_SOURCES is not valid JSON (${(e as Error).message}); expected [{"bucket":"…","endpoint":"http://host:9000",…}]`);
    }
    const entries = Array.isArray(json) ? json : [json];
    if (entries.length === 0) throw new Error('S3_SOURCES is an empty array; leave it unset for no sources');
    entries.forEach((entry, i) => {
      try {
        sources.push(parseEntry(entry));
      } catch (e) {
        throw new Error(`S3_SOURCES[${i}]: ${(e as Error).message}`);
      }
    });
  }
  const minioSet = [minio.MINIO_ENDPOINT, minio.MINIO_ACCESS_KEY, minio.MINIO_SECRET_KEY].filter((v) => v !== undefined && v !== '').length;
  if (minioSet > 0) {
    if (minioSet < 3) throw new Error('MINIO_ENDPOINT, MINIO_ACCESS_KEY and MINIO_SECRET_KEY go together: set all three (or none)');
    try {
      sources.push(
        parseEntry({ name: 'minio', endpoint: minio.MINIO_ENDPOINT, bucket: minio.MINIO_BUCKET ?? DEFAULT_MINIO_BUCKET, accessKey: minio.MINIO_ACCESS_KEY, secretKey: minio.MINIO_SECRET_KEY, pathStyle: true }),
      );
    } catch (e) {
      throw new Error(`MINIO_ENDPOINT/MINIO_BUCKET: ${(e as Error).message}`);
    }
  }
  const seen = new Set<string>();
  for (const s of sources) {
    if (seen.has(s.name)) throw new Error(`S3_SOURCES: two sources are named "${s.name}"; give each a distinct "name"`);
    seen.add(s.name);
  }
  return sources;
}
