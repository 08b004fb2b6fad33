import { DataSource } from 'typeorm';
import { rowsOf } from '@sluice/db';

const CACHE_LIMIT = 100_000;

/** The sensor ids a fast pass asks for: the registry below, or the warm-up's ids in memory (`InMemorySensorIds`). */
export interface SensorIds {
  resolveWide(devices: string[], metrics: string[]): Promise<void>;
  cachedName(name: string): number | undefined;
  resolveUuids(uuids: string[]): Promise<void>;
  cachedUuid(uuid: string): number | undefined;
}

/** How sensors are registered and read by one key: their name (with device and metric), or their UUID. */
interface SensorKey {
  /** Returns `id, key` of every sensor asked for: those present, and those it inserted (sorted: no deadlock between loaders). */
  register: string;
  select: string;
}

const BY_NAME: SensorKey = {
  register: `
    WITH want AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS w(name, device, metric)),
    present AS (SELECT s.id, s.name FROM sensors s JOIN want w ON w.name = s.name),
    added AS (
      INSERT INTO sensors (name, device, metric)
      SELECT w.name, w.device, w.metric FROM want w WHERE NOT EXISTS (SELECT 1 FROM present p WHERE p.name = w.name) ORDER BY 1
      ON CONFLICT DO NOTHING
      RETURNING id, name)
    SELECT id, name AS key FROM present UNION ALL SELECT id, name AS key FROM added`,
  select: `SELECT id, name AS key FROM sensors WHERE name = ANY($1::text[])`,
};

const BY_UUID: SensorKey = {
  register: `
    WITH want AS (SELECT u FROM unnest($1::uuid[]) u),
    present AS (SELECT s.id, s.uuid FROM sensors s JOIN want w ON w.u = s.uuid),
    added AS (
      INSERT INTO sensors (name, uuid)
      SELECT w.u::text, w.u FROM want w WHERE NOT EXISTS (SELECT 1 FROM present p WHERE p.uuid = w.u) ORDER BY 1
      ON CONFLICT DO NOTHING
      RETURNING id, uuid)
    SELECT id, uuid::text AS key FROM present UNION ALL SELECT id, uuid::text AS key FROM added`,
  select: `SELECT id, uuid::text AS key FROM sensors WHERE uuid = ANY($1::uuid[])`,
};

function known(found: Map<string, number>, key: string, error: string): number {
  const id = found.get(key);
  if (id === undefined) throw new Error(error);
  return id;
}

/**
 * Sensor ids by name (wide CSV) or UUID (long CSV). Sensors are an idempotent registry: missing ones are
 * inserted in autocommit on the pool, outside the load transaction, sorted, ON CONFLICT DO NOTHING, so
 * concurrent loaders never deadlock and a rolled-back file leaves at most an unused sensor row. New sensors
 * cost one round trip, as known ones do (a file of new devices waits for it before its COPY).
 * Ids never change (a mapping renames, it does not re-key), so they are cached.
 */
export class SensorRegistry implements SensorIds {
  private readonly byName = new Map<string, number>();
  private readonly byUuid = new Map<string, number>();

  constructor(private readonly ds: DataSource) {}

  cachedName(name: string): number | undefined {
    return this.byName.get(name);
  }

  cachedUuid(uuid: string): number | undefined {
    return this.byUuid.get(uuid);
  }

  /** Ids of `<device>/<metric>` sensors, created when missing. */
  async resolveWide(devices: string[], metrics: string[]): Promise<void> {
    const names: string[] = [];
    const devs: string[] = [];
    const mets: string[] = [];
    for (const d of devices) {
      for (const m of metrics) {
        const name = `${d}/${m}`;
        if (this.byName.has(name)) continue;
        names.push(name);
        devs.push(d);
        mets.push(m);
      }
    }
    if (!names.length) return;
    this.trim();
    const found = await this.registered(BY_NAME, [names, devs, mets], names);
    for (const name of names) this.byName.set(name, known(found, name, `sensor "${name}" could not be registered`));
  }

  /**
   * Ids of sensors by name (NDJSON readings), created when missing; a `<device>/<metric>` name records
   * its device and metric like a wide-CSV sensor.
   */
  async resolveNames(names: string[]): Promise<void> {
    const want = [...new Set(names.filter((n) => !this.byName.has(n)))];
    if (!want.length) return;
    this.trim();
    const split = want.map((n) => {
      const at = n.lastIndexOf('/');
      return at > 0 && at < n.length - 1 ? [n.slice(0, at), n.slice(at + 1)] : [null, null];
    });
    const found = await this.registered(BY_NAME, [want, split.map((s) => s[0]), split.map((s) => s[1])], want);
    for (const name of want) this.byName.set(name, known(found, name, `sensor "${name}" could not be registered`));
  }

  /** Ids of UUID sensors; unknown UUIDs are created named by the UUID until a mapping names them. */
  async resolveUuids(uuids: string[]): Promise<void> {
    const want = [...new Set(uuids.filter((u) => !this.byUuid.has(u)))];
    if (!want.length) return;
    this.trim();
    const found = await this.registered(BY_UUID, [want], want);
    for (const uuid of want) this.byUuid.set(uuid, known(found, uuid, `sensor ${uuid} could not be registered (its name is taken by another sensor)`));
  }

  /**
   * Ids of the sensors `keys` name, inserting the missing ones: one statement, whose second read is needed
   * only for a sensor another loader inserted while it ran (its snapshot did not see it, and it inserted nothing).
   */
  private async registered(by: SensorKey, params: unknown[], keys: string[]): Promise<Map<string, number>> {
    const read = (rows: unknown) => new Map(rowsOf<{ id: number; key: string }>(rows).map((r) => [r.key, r.id]));
    const found = read(await this.ds.query(by.register, params));
    const raced = keys.filter((k) => !found.has(k));
    if (raced.length) for (const [k, id] of read(await this.ds.query(by.select, [raced]))) found.set(k, id);
    return found;
  }

  private trim(): void {
    if (this.byName.size > CACHE_LIMIT) this.byName.clear();
    if (this.byUuid.size > CACHE_LIMIT) this.byUuid.clear();
  }
}
