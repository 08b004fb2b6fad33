import { Module } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import { Partitions } from '@sluice/db';
import { FiledFilesRetention, LedgerModule, LedgerRetention, StoredPayloads } from '@sluice/loading';
import { DataSource } from 'typeorm';
import { MaintenanceJob } from './maintenance.job';
import { PartitionWork } from './maintenance.types';

/** The app's partitions, at PARTITION_INTERVAL. */
export function partitionsOf(ds: DataSource, config: CommonConfig): PartitionWork {
  return new Partitions(ds, config.PARTITION_INTERVAL);
}

/** The job over the app's database, drop folder and retention settings (the CLI builds the same by hand). */
export function maintenanceJobOf(
  ds: DataSource,
  config: CommonConfig,
  parts: { partitions: PartitionWork; files: FiledFilesRetention; payloads: StoredPayloads; ledger: LedgerRetention },
): MaintenanceJob {
  return new MaintenanceJob({
    db: ds,
    retention: config.retention,
    partitions: parts.partitions,
    sweeps: {
      processedFiles: (h, o) => parts.files.sweepProcessed(h, o),
      quarantinedFiles: (h, o) => parts.files.sweepQuarantine(h, o),
      payloadBodies: (h, o) => parts.payloads.sweepExpired(h, o),
      ledgerRows: (h, o) => parts.ledger.sweep(h, o),
    },
  });
}

/** `MaintenanceJob` and the `PartitionWork` it runs. Needs DbModule, ConfigModule and StorageModule. */
@Module({
  imports: [LedgerModule],
  providers: [
    { provide: PartitionWork, inject: [DataSource, CommonConfig], useFactory: partitionsOf },
    {
      provide: MaintenanceJob,
      inject: [DataSource, CommonConfig, PartitionWork, FiledFilesRetention, StoredPayloads, LedgerRetention],
      useFactory: (ds: DataSource, config: CommonConfig, partitions: PartitionWork, files: FiledFilesRetention, payloads: StoredPayloads, ledger: LedgerRetention) =>
        maintenanceJobOf(ds, config, { partitions, files, payloads, ledger }),
    },
  ],
  exports: [PartitionWork, MaintenanceJob],
})
export class MaintenanceModule {}
