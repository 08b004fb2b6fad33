import { Module } from '@nestjs/common';
import { LOADERS, type KindLoader } from './kind-loader';
import { LoaderRegistry } from './loader-registry';
import { KIND_LOADERS } from './loaders';
import { PartitionCoverage } from './partition-coverage';
import { PayloadBatchLoader } from './payload-batch.loader';

/** The kind loaders, the registry that routes each file to one, the loader of stored payload batches, and the partitions a load's rows need. Needs the app's DataSource (DbModule). */
@Module({
  providers: [
    ...KIND_LOADERS,
    { provide: LOADERS, inject: [...KIND_LOADERS], useFactory: (...loaders: KindLoader[]) => loaders },
    LoaderRegistry,
    PayloadBatchLoader,
    PartitionCoverage,
  ],
  exports: [LoaderRegistry, PayloadBatchLoader, PartitionCoverage],
})
export class LoadingModule {}
