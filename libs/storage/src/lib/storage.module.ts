import { type DynamicModule, Module } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import { DropFolder } from './drop-folder';

/** Provides the DropFolder of the app's DROPZONE_DIR (any config class that has that variable). */
@Module({})
export class StorageModule {
  static forRoot(): DynamicModule {
    return {
      module: StorageModule,
      providers: [
        {
          provide: DropFolder,
          inject: [CommonConfig],
          useFactory: (config: CommonConfig) => {
            const dir = (config as CommonConfig & { DROPZONE_DIR?: unknown }).DROPZONE_DIR;
            if (typeof dir !== 'string' || dir === '') throw new Error('StorageModule needs a config class with DROPZONE_DIR');
            return new DropFolder(dir, config.decompressionLimits);
          },
        },
      ],
      exports: [DropFolder],
    };
  }
}
