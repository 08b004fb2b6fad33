import { type DynamicModule, Module, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommonConfig } from '@sluice/config';
import { ReadinessRegistry } from '@sluice/observability';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';

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

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await this.dataSource.query('SELECT 1');
    });
  }
}
