import { type DynamicModule, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommonConfig } from '@sluice/config';
import { ReadinessRegistry } from '@sluice/observability';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';
import { withConnection } from './transaction';

/** The one DataSource of an app, configured from DATABASE_URL. */
@Module({})
export class DbModule implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly readiness: ReadinessRegistry,
  ) {}

  static forRoot(opts: { poolSize?: number; applicationName: string }): DynamicModule {
    return {
      module: DbModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [CommonConfig],
          useFactory: (config: CommonConfig) => ({
            ...dataSourceOptions(config.DATABASE_URL, opts),
            // Fail fast at boot rather than retrying silently for minutes.
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
      ],
      exports: [TypeOrmModule],
    };
  }

  /**
   * Opens the connections the pool keeps (WARM_CONNECTIONS), each with the ledger looked up once, so that the
   * first file or request does not pay for a new backend. In onModuleInit, which every module finishes before
   * any onApplicationBootstrap runs: what an app does at bootstrap finds them open.
   */
  async onModuleInit(): Promise<void> {
    this.readiness.register('database', async () => {
      await this.dataSource.query('SELECT 1');
    });
    // The pool's own `min` (dataSourceOptions): WARM_CONNECTIONS, or fewer for a smaller pool.
    const warm = (this.dataSource.options.extra as { min?: number } | undefined)?.min ?? 0;
    const open = () => withConnection(this.dataSource, (client) => client.query(`SELECT id FROM ingest_files WHERE id = '00000000-0000-0000-0000-000000000000'`));
    // Started together, so that each takes a connection of its own.
    await Promise.all(Array.from({ length: warm }, open)).catch((e: Error) => new Logger(DbModule.name).warn(`could not open the pool's warm connections: ${e.message}`));
  }
}
