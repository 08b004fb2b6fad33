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

/**
 * Sensor ids by name (wide CSV) or UUID (long CSV). Sensors are an idempotent registry: missing ones are
 * inserted in autocommit on the pool, outside the load transaction, sorted, ON CONFLICT DO NOTHING, so
 * concurrent loaders never deadlock and a rolled-back file leaves at most an unused sensor row.
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
    const found = await this.selectByName(names);
    const missing = names.map((n, i) => i).filter((i) => !found.has(names[i]));
    if (missing.length) {
      await this.ds.query(
        `INSERT INTO sensors (name, device, metric)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1
         ON CONFLICT DO NOTHING`,
        [missing.map((i) => names[i]), missing.map((i) => devs[i]), missing.map((i) => mets[i])],
      );
      for (const [k, v] of await this.selectByName(missing.map((i) => names[i]))) found.set(k, v);
    }
    for (const name of names) {
      const id = found.get(name);
      if (id === undefined) throw new Error(`sensor "${name}" could not be registered`);
      this.byName.set(name, id);
    }
  }

  /**
   * Ids of sensors by name (NDJSON readings), created when missing; a `<device>/<metric>` name records
   * its device and metric like a wide-CSV sensor.
   */
  async resolveNames(names: string[]): Promise<void> {
    const want = [...new Set(names.filter((n) => !this.byName.has(n)))].sort();
    if (!want.length) return;
    this.trim();
    const found = await this.selectByName(want);
    const missing = want.filter((n) => !found.has(n));
    if (missing.length) {
      const split = missing.map((n) => {
        const at = n.lastIndexOf('/');
        return at > 0 && at < n.length - 1 ? [n.slice(0, at), n.slice(at + 1)] : [null, null];
      });
      await this.ds.query(
        `INSERT INTO sensors (name, device, metric) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1 ON CONFLICT DO NOTHING`,
        [missing, split.map((s) => s[0]), split.map((s) => s[1])],
      );
      for (const [k, v] of await this.selectByName(missing)) found.set(k, v);
    }
    for (const name of want) {
      const id = found.get(name);
      if (id === undefined) throw new Error(`sensor "${name}" could not be registered`);
      this.byName.set(name, id);
    }
  }

  /** Ids of UUID sensors; unknown UUIDs are created named by the UUID until a mapping names them. */
  async resolveUuids(uuids: string[]): Promise<void> {
    const want = [...new Set(uuids.filter((u) => !this.byUuid.has(u)))].sort();
    if (!want.length) return;
    this.trim();
    const sel = `SELECT id, uuid::text AS uuid FROM sensors WHERE uuid = ANY($1::uuid[])`;
    let rows = rowsOf<{ id: number; uuid: string }>(await this.ds.query(sel, [want]));
    if (rows.length < want.length) {
      await this.ds.query(`INSERT INTO sensors (name, uuid) SELECT u::text, u FROM unnest($1::uuid[]) u ORDER BY 1 ON CONFLICT DO NOTHING`, [want]);
      rows = rowsOf<{ id: number; uuid: string }>(await this.ds.query(sel, [want]));
    }
    for (const r of rows) this.byUuid.set(r.uuid, r.id);
    const lost = want.find((u) => !this.byUuid.has(u));
    if (lost) throw new Error(`sensor ${lost} could not be registered (its name is taken by another sensor)`);
  }

  private async selectByName(names: string[]): Promise<Map<string, number>> {
    const rows = rowsOf<{ id: number; name: string }>(await this.ds.query(`SELECT id, name FROM sensors WHERE name = ANY($1::text[])`, [names]));
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  private trim(): void {
    if (this.byName.size > CACHE_LIMIT) this.byName.clear();
    if (this.byUuid.size > CACHE_LIMIT) this.byUuid.clear();
  }
}
