import { Module } from '@nestjs/common';
import { ContractKindLoader } from './contract/contract-kind.loader';
import { LOADERS, type KindLoader } from './kind-loader';
import { LoaderRegistry } from './loader-registry';
import { KIND_LOADERS } from './loaders';
import { PartitionCoverage } from './partition-coverage';
import { PayloadBatchLoader } from './payload-batch.loader';

/**
 * The kind loaders, the registry that routes each file to one (or, with ContractsModule imported, to a data contract),
 * the loader of stored payload batches, and the partitions a load's rows need. Needs the app's DataSource (DbModule).
 */
@Module({
  providers: [
    ...KIND_LOADERS,
    { provide: LOADERS, inject: [...KIND_LOADERS], useFactory: (...loaders: KindLoader[]) => loaders },
    LoaderRegistry,
    PayloadBatchLoader,
    PartitionCoverage,
    ContractKindLoader,
  ],
  exports: [LoaderRegistry, PayloadBatchLoader, PartitionCoverage, ContractKindLoader],
})
export class LoadingModule {}
