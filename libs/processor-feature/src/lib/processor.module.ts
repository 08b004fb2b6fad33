import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { JsonDocumentLoader, LedgerRepository, LoaderRegistry, LogLinesLoader, NdjsonLoader, PayloadBatchLoader, SensorCsvLoader, StoredPayloads } from '@sluice/loading';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { DropFolder, DropFolderReader, ObjectStoreReader, ObjectStores, StoredFileReaders } from '@sluice/storage';
import { ArchiveExpander } from './archive-expander.service';
import { BatchProcessorService } from './batch-processor.service';
import { FileProcessorService } from './file-processor.service';
import { ProcessorConsumer } from './processor.consumer';

@Module({})
export class ProcessorModule {
  /** `env` overrides process.env (tests); the app passes nothing. */
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: ProcessorModule,
      imports: [
        ConfigModule.forRoot(ProcessorConfig, env),
        ObservabilityModule.forRoot('processor'),
        DbModule.forRoot({ applicationName: 'sluice-processor', poolSize: 20 }),
        MessagingModule.forRoot('sluice-processor'),
      ],
      providers: [
        { provide: DropFolder, inject: [ProcessorConfig], useFactory: (c: ProcessorConfig) => new DropFolder(c.DROPZONE_DIR, c.decompressionLimits) },
        { provide: ObjectStores, inject: [ProcessorConfig], useFactory: (c: ProcessorConfig) => new ObjectStores(c.s3Sources) },
        { provide: StoredFileReaders, inject: [DropFolder, ObjectStores], useFactory: (d: DropFolder, s: ObjectStores) => new StoredFileReaders([new ObjectStoreReader(s), new DropFolderReader(d)]) },
        LedgerRepository,
        SensorCsvLoader,
        JsonDocumentLoader,
        NdjsonLoader,
        LogLinesLoader,
        LoaderRegistry,
        StoredPayloads,
        PayloadBatchLoader,
        ArchiveExpander,
        FileProcessorService,
        BatchProcessorService,
        ProcessorConsumer,
      ],
    };
  }
}
