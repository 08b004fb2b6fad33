import { createDataSource, rowsOf } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { SensorRegistry } from './sensor-registry';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';

describe(SensorRegistry.name, () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('sensor_registry');
    ds = createDataSource(db.url, { poolSize: 8 });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  beforeEach(() => ds.query('TRUNCATE sensors RESTART IDENTITY CASCADE'));

  const sensors = async () =>
    rowsOf<{ id: number; name: string; uuid: string | null; device: string | null; metric: string | null }>(await ds.query('SELECT id, name, uuid::text AS uuid, device, metric FROM sensors ORDER BY name'));

  it('creates the missing wide sensors, finds the known ones, and caches both', async () => {
    await ds.query(`INSERT INTO sensors (name, device, metric) VALUES ('a/temp', 'a', 'temp')`);
    const [{ id: known }] = await sensors();
    const registry = new SensorRegistry(ds);
    await registry.resolveWide(['a', 'b'], ['temp', 'co']);

    const rows = await sensors();
    expect(rows.map((r) => [r.name, r.device, r.metric])).toEqual([
      ['a/co', 'a', 'co'],
      ['a/temp', 'a', 'temp'],
      ['b/co', 'b', 'co'],
      ['b/temp', 'b', 'temp'],
    ]);
    for (const r of rows) expect(registry.cachedName(r.name)).toBe(r.id);
    expect(registry.cachedName('a/temp')).toBe(known);

    // Known now: nothing is asked of the database, so a row changed behind its back is not seen.
    await ds.query('DELETE FROM sensors');
    await registry.resolveWide(['a', 'b'], ['temp', 'co']);
    expect(await sensors()).toEqual([]);
  });

  it('registers NDJSON names with their device and metric when they have both', async () => {
    const registry = new SensorRegistry(ds);
    await registry.resolveNames(['dev-1/temp', 'plain', 'dev-1/temp', '/odd', 'tail/']);
    expect((await sensors()).map((r) => [r.name, r.device, r.metric])).toEqual([
      ['/odd', null, null],
      ['dev-1/temp', 'dev-1', 'temp'],
      ['plain', null, null],
      ['tail/', null, null],
    ]);
    expect(registry.cachedName('plain')).toBeGreaterThan(0);
  });

  it('creates UUID sensors named by their UUID, and refuses one whose name another sensor has', async () => {
    await ds.query(`INSERT INTO sensors (name) VALUES ($1)`, [U2]);
    const registry = new SensorRegistry(ds);
    await registry.resolveUuids([U1]);
    expect((await sensors()).find((r) => r.uuid === U1)).toMatchObject({ name: U1 });
    expect(registry.cachedUuid(U1)).toBeGreaterThan(0);

    await expect(registry.resolveUuids([U2])).rejects.toThrow(`sensor ${U2} could not be registered (its name is taken by another sensor)`);
  });

  it('gives every loader the same ids when many register the same new sensors at once', async () => {
    const devices = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const metrics = ['temp', 'co', 'humidity'];
    const registries = Array.from({ length: 8 }, () => new SensorRegistry(ds));
    // Each starts from another device, so their statements overlap on rows they insert in other orders.
    await Promise.all(registries.map((r, k) => r.resolveWide([...devices.slice(k * 5), ...devices.slice(0, k * 5)], metrics)));

    const rows = await sensors();
    expect(rows).toHaveLength(devices.length * metrics.length);
    for (const r of registries) for (const row of rows) expect(r.cachedName(row.name)).toBe(row.id);
  });

  it('reads a sensor another loader inserted while its statement ran', async () => {
    // The other loader's insert is not committed yet: the registry's statement waits on it, then inserts nothing.
    const other = ds.createQueryRunner();
    await other.connect();
    try {
      await other.startTransaction();
      const [{ id }] = rowsOf<{ id: number }>(await other.query(`INSERT INTO sensors (name, device, metric) VALUES ('x/temp', 'x', 'temp') RETURNING id`));
      const registry = new SensorRegistry(ds);
      const resolving = registry.resolveWide(['x'], ['temp']);
      await waitForLockWait();
      await other.commitTransaction();
      await resolving;
      expect(registry.cachedName('x/temp')).toBe(id);
      expect(await sensors()).toHaveLength(1);
    } finally {
      await other.release();
    }
  });

  /** Until a statement of this database waits for a lock. */
  async function waitForLockWait(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const [{ n }] = rowsOf<{ n: number }>(await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`));
      if (n > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no statement waited for the uncommitted insert');
  }
});
