import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { JsonDocumentLoader, LedgerRepository, LoaderRegistry, LogLinesLoader, NdjsonLoader, PayloadBatchLoader, SensorCsvLoader, StoredPayloads } from '@sluice/loading';
import { AttemptPolicy, JetStreamServer, JetStreamService, MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { DropFolder, DropFolderReader, ObjectStoreReader, ObjectStores, StoredFileReaders } from '@sluice/storage';
import { ArchiveExpander } from './archive-expander.service';
import { BatchProcessorService } from './batch-processor.service';
import { FileProcessorService } from './file-processor.service';
import { LedgerFallback } from './ledger-fallback.service';
import { processorAttempts } from './processor-attempts';
import { PROCESSOR_DURABLE, PROCESSOR_SUBJECTS, ProcessorConsumer } from './processor.consumer';

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
        { provide: AttemptPolicy, inject: [ProcessorConfig], useFactory: processorAttempts },
        {
          provide: JetStreamServer,
          inject: [JetStreamService, ProcessorConfig, AttemptPolicy],
          useFactory: (js: JetStreamService, c: ProcessorConfig, attempts: AttemptPolicy) =>
            new JetStreamServer(js, { subjects: PROCESSOR_SUBJECTS, durable: PROCESSOR_DURABLE, concurrency: c.PROCESSOR_CONCURRENCY, ackWaitMs: c.ACK_WAIT_MS, attempts, maxAckPending: 10000 }),
        },
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
        LedgerFallback,
      ],
    };
  }
}
