import { CliConfig, loadConfig } from '@sluice/config';
import type { LedgerAnnouncer, LedgerRepository } from '@sluice/loading';
import type { MaintenanceJob } from '@sluice/maintenance';
import type { JetStreamService } from '@sluice/messaging';
import { OutcomeFiling } from '@sluice/storage';
import type { DataSource } from 'typeorm';
import { CliError } from './cli-error';

// TypeORM, NATS and the loaders are loaded when a command first needs them: `retrieve-sensor-readings`
// and `--help` start without them.

/** The libraries log through Nest's Logger; the CLI speaks for itself. */
async function quietNest(): Promise<void> {
  const { Logger } = await import('@nestjs/common');
  Logger.overrideLogger(false);
}

/** A URL fit for a message: no password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * What a command needs, opened on first use and closed once at the end: the database, NATS, the drop
 * folder. Connection failures become one-line errors that say what could not be reached and where.
 */
export class CliContext {
  private ds?: DataSource;
  private js?: JetStreamService;
  private dropFolder?: OutcomeFiling;

  private constructor(readonly config: CliConfig) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CliContext {
    return new CliContext(loadConfig(CliConfig, env));
  }

  async db(): Promise<DataSource> {
    if (!this.ds) {
      await quietNest();
      const { createDataSource } = await import('@sluice/db');
      const ds = createDataSource(this.config.DATABASE_URL, { poolSize: 4, applicationName: 'sluice-cli' });
      try {
        await ds.initialize();
      } catch (e) {
        // The usual cause: `npm start` was given another DATABASE_URL than this shell has.
        const hint = (e as { code?: string }).code === '3D000' ? '; give the DATABASE_URL the services run with, or create this one with npm run migrate' : '';
        throw new CliError(`cannot connect to PostgreSQL at ${redactUrl(this.config.DATABASE_URL)} (DATABASE_URL): ${(e as Error).message}${hint}`);
      }
      this.ds = ds;
    }
    return this.ds;
  }

  async ledger(): Promise<LedgerRepository> {
    const ds = await this.db();
    const { LedgerRepository } = await import('@sluice/loading');
    return new LedgerRepository(ds);
  }

  /** Registers and announces files as the services do: ledger rows first, then their messages. */
  async announcer(): Promise<LedgerAnnouncer> {
    const [ledger, js] = [await this.ledger(), await this.jetstream()];
    const { LedgerAnnouncer } = await import('@sluice/loading');
    return new LedgerAnnouncer(ledger, js);
  }

  /** The partition and retention job, as the watcher runs it, on this shell's database, drop folder and settings. */
  async maintenance(): Promise<MaintenanceJob> {
    const [ds, drop] = [await this.db(), await this.drop()];
    const [{ FiledFilesRetention, LedgerRetention, StoredPayloads }, { maintenanceJobOf, partitionsOf }] = await Promise.all([import('@sluice/loading'), import('@sluice/maintenance')]);
    return maintenanceJobOf(ds, this.config, {
      partitions: partitionsOf(ds, this.config),
      files: new FiledFilesRetention(ds, drop),
      payloads: new StoredPayloads(ds),
      ledger: new LedgerRetention(ds),
    });
  }

  async jetstream(): Promise<JetStreamService> {
    if (!this.js) {
      await quietNest();
      const { JetStreamService } = await import('@sluice/messaging');
      const js = new JetStreamService(this.config);
      try {
        await Promise.race([
          js.connect('sluice-cli'),
          new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10000).unref()),
        ]);
      } catch (e) {
        await js.onApplicationShutdown().catch(() => undefined);
        throw new CliError(`cannot reach NATS JetStream at ${this.config.NATS_URL} (NATS_URL): ${(e as Error).message}`);
      }
      this.js = js;
    }
    return this.js;
  }

  async drop(): Promise<OutcomeFiling> {
    if (!this.dropFolder) {
      const drop = new OutcomeFiling(this.config.DROPZONE_DIR, this.config.decompressionLimits);
      try {
        await drop.init();
      } catch (e) {
        throw new CliError(`cannot use the drop folder ${drop.root} (DROPZONE_DIR): ${(e as Error).message}`);
      }
      this.dropFolder = drop;
    }
    return this.dropFolder;
  }

  async close(): Promise<void> {
    await this.js?.onApplicationShutdown().catch(() => undefined);
    if (this.ds?.isInitialized) await this.ds.destroy().catch(() => undefined);
  }
}
