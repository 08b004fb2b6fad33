import { type DynamicModule, Module } from '@nestjs/common';
import { CommonConfig } from './app-configs';
import { loadConfig } from './load-config';

/**
 * Provides one validated config class (and CommonConfig, for shared libs) to a Nest app.
 * Validation happens at module construction, so a bad variable stops the service before it listens.
 */
@Module({})
export class ConfigModule {
  static forRoot<T extends CommonConfig>(cls: new () => T, env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const config = loadConfig(cls, env);
    return {
      module: ConfigModule,
      global: true,
      providers: [
        { provide: cls, useValue: config },
        { provide: CommonConfig, useValue: config },
      ],
      exports: [cls, CommonConfig],
    };
  }
}
