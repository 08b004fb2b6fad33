import { type DynamicModule, Module } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import { DropAreas } from './drop-areas';
import { DropClaims } from './drop-claims';
import { OutcomeFiling } from './outcome-filing';
import { UploadWriter } from './upload-writer';

const SLICES = [DropAreas, DropClaims, OutcomeFiling, UploadWriter] as const;

/** Provides every slice of the drop folder at the app's DROPZONE_DIR (any config class that has that variable). */
@Module({})
export class StorageModule {
  static forRoot(): DynamicModule {
    return {
      module: StorageModule,
      providers: SLICES.map((slice) => ({
        provide: slice,
        inject: [CommonConfig],
        useFactory: (config: CommonConfig) => {
          const dir = (config as CommonConfig & { DROPZONE_DIR?: unknown }).DROPZONE_DIR;
          if (typeof dir !== 'string' || dir === '') throw new Error('StorageModule needs a config class with DROPZONE_DIR');
          return new slice(dir, config.decompressionLimits);
        },
      })),
      exports: [...SLICES],
    };
  }
}
