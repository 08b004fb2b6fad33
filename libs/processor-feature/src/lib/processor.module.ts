import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { JsonDocumentLoader, LedgerAnnouncer, LedgerRepository, LoaderRegistry, LogLinesLoader, NdjsonLoader, PayloadBatchLoader, SensorCsvLoader, StoredPayloads } from '@sluice/loading';
import { JetStreamServer, JetStreamService, MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { DropFolder, DropFolderReader, ObjectStoreReader, ObjectStores, StoredFileReaders } from '@sluice/storage';
import { ArchiveExpander } from './archive-expander.service';
import { BatchProcessorService } from './batch-processor.service';
import { FileProcessorService } from './file-processor.service';
import { LedgerFallback } from './ledger-fallback.service';
import { PROCESSOR_DURABLE, ProcessorConsumer } from './processor.consumer';

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
      controllers: [ProcessorConsumer],
      providers: [
        {
          provide: JetStreamServer,
          inject: [JetStreamService, ProcessorConfig],
          useFactory: (js: JetStreamService, c: ProcessorConfig) =>
            // One delivery more than MAX_ATTEMPTS: the last one only records `failed` if every attempt crashed.
            new JetStreamServer(js, { durable: PROCESSOR_DURABLE, concurrency: c.PROCESSOR_CONCURRENCY, ackWaitMs: c.ACK_WAIT_MS, maxDeliver: c.MAX_ATTEMPTS + 1, maxAckPending: 10000 }),
        },
        { provide: DropFolder, inject: [ProcessorConfig], useFactory: (c: ProcessorConfig) => new DropFolder(c.DROPZONE_DIR, c.decompressionLimits) },
        { provide: ObjectStores, inject: [ProcessorConfig], useFactory: (c: ProcessorConfig) => new ObjectStores(c.s3Sources) },
        { provide: StoredFileReaders, inject: [DropFolder, ObjectStores], useFactory: (d: DropFolder, s: ObjectStores) => new StoredFileReaders([new ObjectStoreReader(s), new DropFolderReader(d)]) },
        LedgerRepository,
        LedgerAnnouncer,
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
        LedgerFallback,
      ],
    };
  }
}
