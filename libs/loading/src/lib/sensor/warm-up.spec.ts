import { readLongCsv, readWideCsv, type SensorCsvOptions } from '@sluice/formats';
import type { DataSource } from 'typeorm';
import type { LoadOptions } from '../kind-loader';
import { LoaderRegistry } from '../loader-registry';
import { SensorCsvLoader } from './sensor-csv.loader';
import { InMemorySensorIds, longWarmUpFile, WARM_UP_LINES, wideWarmUpFile } from './warm-up';

/** A DataSource whose every use fails: the warm-up must not touch the database. */
const noDatabase = new Proxy({} as DataSource, {
  get: (_t, prop) => {
    throw new Error(`the warm-up used the database (${String(prop)})`);
  },
});

const opts: LoadOptions = { invalidRows: 'skip', maxInvalidRatio: 1, ranges: {}, naiveTimeZone: 'UTC', notBefore: { rawMicros: (Date.now() - 86_400_000) * 1000 } };

describe('the sensor loader warm-up', () => {
  it('generates recent files every line of which a load takes, with raw readings kept one day', async () => {
    const now = Date.now();
    const csv: SensorCsvOptions = { ranges: {}, naiveTimeZone: 'UTC', notBeforeMicros: (now - 86_400_000) * 1000 };
    for (const read of [readWideCsv(wideWarmUpFile(now), csv), readLongCsv(longWarmUpFile(now), csv)]) {
      let rows = 0;
      const rejects: unknown[] = [];
      for await (const batch of read) {
        rows += batch.rows.length;
        rejects.push(...batch.rejects);
      }
      expect(rejects).toEqual([]);
      expect(rows).toBe(WARM_UP_LINES);
    }
  });

  it('writes timestamps both as exponents and as plain decimals, as files do', async () => {
    const text = (await wideWarmUpFile(Date.now()).toArray()).map(String).join('');
    expect(text).toMatch(/^"\d\.\d+E9",/m);
    expect(text).toMatch(/^"\d{10}(\.\d+)?",/m);
  });

  it('runs the fast pass over both files without the database, through the registry', async () => {
    const registry = new LoaderRegistry([new SensorCsvLoader(noDatabase)]);
    await expect(registry.warmUp(opts)).resolves.toBe(2 * WARM_UP_LINES);
  });

  it('numbers sensors in memory, the same name always the same id', async () => {
    const ids = new InMemorySensorIds();
    await ids.resolveWide(['a', 'b'], ['temp', 'co']);
    await ids.resolveUuids(['u1', 'u1']);
    expect(['a/temp', 'a/co', 'b/temp', 'b/co'].map((n) => ids.cachedName(n))).toEqual([1, 2, 3, 4]);
    expect(ids.cachedUuid('u1')).toBe(5);
    expect(ids.cachedName('c/temp')).toBeUndefined();
  });
});
