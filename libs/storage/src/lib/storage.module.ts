import { type DynamicModule, Module } from '@nestjs/common';
import { CommonConfig, DropzoneConfig } from '@sluice/config';
import { DropAreas } from './drop-areas';
import { DropClaims } from './drop-claims';
import { OutcomeFiling } from './outcome-filing';
import { DropFolderReader, ObjectStoreReader, StoredFileReaders } from './file-reader';
import { ObjectStores } from './object-stores';
import { UploadWriter } from './upload-writer';

/** DROPZONE_DIR of any config class that has that variable. */
export function dropzoneDirOf(config: CommonConfig): string {
  const dir = (config as CommonConfig & { DROPZONE_DIR?: unknown }).DROPZONE_DIR;
  if (typeof dir !== 'string' || dir === '') throw new Error('StorageModule needs a config class with DROPZONE_DIR');
  return dir;
}

const SLICES = [DropAreas, DropClaims, OutcomeFiling, UploadWriter] as const;

/**
 * Where an app's files live, from its config: every slice of the drop folder at DROPZONE_DIR (any config class
 * that has that variable), the ObjectStores of S3_SOURCES (none for a config without them) and the
 * StoredFileReaders that read a ledger row's bytes from either. Global: an app has one drop folder, and libs
 * (replay) use it.
 */
@Module({})
export class StorageModule {
  static forRoot(): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      providers: [
        ...SLICES.map((slice) => ({
          provide: slice,
          inject: [CommonConfig],
          useFactory: (config: CommonConfig) => new slice(dropzoneDirOf(config), config.decompressionLimits),
        })),
        {
          provide: ObjectStores,
          inject: [CommonConfig],
          useFactory: (config: CommonConfig) => new ObjectStores(config instanceof DropzoneConfig ? config.s3Sources : []),
        },
        {
          provide: StoredFileReaders,
          inject: [DropAreas, ObjectStores],
          useFactory: (drop: DropAreas, stores: ObjectStores) => new StoredFileReaders([new ObjectStoreReader(stores), new DropFolderReader(drop)]),
        },
      ],
      exports: [...SLICES, ObjectStores, StoredFileReaders],
    };
  }
}
