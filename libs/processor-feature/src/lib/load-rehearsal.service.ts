import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ProcessorConfig } from '@sluice/config';
import { WARM_CONNECTIONS, withConnection } from '@sluice/db';
import { decompressed } from '@sluice/formats';
import { LedgerRepository, LoaderRegistry, loadOutcome, loadPolicyOptions, SensorCsvLoader, SensorRegistry } from '@sluice/loading';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';

/** Lines of the rehearsed file: enough runs of the per-line code for V8 to optimise it. */
export const REHEARSAL_LINES = 2_000;
/** A rehearsal still running after this is left to finish on its own, and the processor starts taking files. */
const WAIT_MS = 5_000;

/**
 * Before the processor takes its first message, it rehearses a load on each connection its pool keeps warm
 * (WARM_CONNECTIONS): the sensor lookup a load sends on the pool, then a wide sensor CSV in the seeds' shape
 * through detection, decompression and the sensor loader with its COPY and aggregates, and the ledger's
 * statements for an id no row has, inside a transaction that is rolled back. Without it the first file after a
 * start paid for cold code and for backends with empty catalog caches: 250–330 ms from rename to visible,
 * against ~50 ms for the next ones. Nothing of it stays: its sensors are registered inside its transaction
 * (a registry of its own, on its client), so only the sensors' id sequence moves on. A rehearsal that fails
 * is logged and the processor starts all the same.
 */
@Injectable()
export class LoadRehearsal implements OnApplicationBootstrap {
  private readonly logger = new Logger(LoadRehearsal.name);
  /** Readings the finished rehearsals loaded and rolled back, summed over the connections. */
  rehearsedReadings = 0;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly ds: DataSource,
    private readonly loaders: LoaderRegistry,
    private readonly ledger: LedgerRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const started = performance.now();
    const onEach = <T>(work: () => Promise<T>) => Promise.all(Array.from({ length: WARM_CONNECTIONS }, work));
    // Each started together with the others, so that each takes a connection of its own: first the sensor lookup
    // a load sends on the pool (for a name no sensor has), then the load on a client of its own.
    const sensors = new SensorRegistry(this.ds);
    const rehearsals = onEach(() => sensors.selectByName([`rehearsal-${randomUUID()}/temp`])).then(() => onEach(() => withConnection(this.ds, (client) => this.rehearse(client))));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), WAIT_MS)));
    try {
      const readings = await Promise.race([rehearsals, late]);
      if (readings === 'late') this.logger.warn(`the load rehearsal took over ${WAIT_MS} ms; taking files without waiting for it`);
      else {
        this.rehearsedReadings = readings.reduce((a, b) => a + b, 0);
        this.logger.log({ readings: this.rehearsedReadings, ms: Math.round(performance.now() - started) }, 'load rehearsed');
      }
    } catch (e) {
      this.logger.warn(`the load rehearsal failed (the first files may load slower): ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    rehearsals.catch(() => undefined);
  }

  /** One rehearsal on `client`, rolled back whatever happens; the readings it would have loaded. */
  private async rehearse(client: PoolClient): Promise<number> {
    const device = `rehearsal-${randomUUID()}`;
    const csv = rehearsalCsv(device, Date.now());
    const route = await this.loaders.routeStream(Readable.from([csv]), 'rehearsal.csv', this.config.MAX_LINE_BYTES);
    if (!('loader' in route) || route.kind !== 'sensor_wide_csv') throw new Error('the rehearsal file was not taken as a wide sensor CSV');
    const loader = new SensorCsvLoader(this.ds, new SensorRegistry(client));
    const fileId = randomUUID();
    await client.query('BEGIN');
    try {
      // Behind a lock (partition maintenance), the rehearsal gives up rather than queue in front of real work.
      await client.query(`SET LOCAL lock_timeout = '1s'`);
      // The ledger statements of a load, for an id no row has: they find nothing and change nothing.
      await this.ledger.lockForLoad(client, fileId);
      const open = () => decompressed(Readable.from([csv]), this.config.decompressionLimits, { name: 'rehearsal.csv' });
      const result = await loader.load(client, fileId, route.kind, open, loadPolicyOptions(this.config));
      await this.ledger.recordOutcome(client, fileId, loadOutcome(route.kind, result));
      await this.ledger.get(fileId, client);
      return result.rowsWritten.raw_sensor_data ?? 0;
    } finally {
      await client.query('ROLLBACK');
    }
  }
}

/** A wide sensor CSV in the seeds' shape: one device, seven metrics (two of them booleans), a line a second up to `endMs`. */
export function rehearsalCsv(device: string, endMs: number): Buffer {
  const lines = ['"ts","device","co","humidity","light","lpg","motion","smoke","temp"'];
  const first = Math.floor(endMs / 1000) - REHEARSAL_LINES;
  for (let i = 0; i < REHEARSAL_LINES; i++) {
    const v = (i % 50) / 100;
    lines.push(`"${first + i}.${(i * 7919) % 1000}","${device}","${0.004 + v / 100}","${50 + v}","${i % 2 ? 'True' : 'False'}","${0.007 + v / 100}","${i % 3 ? 'False' : 'True'}","${0.019 + v / 100}","${22 + v}"`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}
