import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { LedgerModule, LoadingModule } from '@sluice/loading';
import { JetStreamConsumerModule, MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { StorageModule } from '@sluice/storage';
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
        JetStreamConsumerModule.forRootAsync({
          inject: [ProcessorConfig],
          // One delivery more than MAX_ATTEMPTS: the last one only records `failed` if every attempt crashed.
          useFactory: (c: ProcessorConfig) => ({ durable: PROCESSOR_DURABLE, concurrency: c.PROCESSOR_CONCURRENCY, ackWaitMs: c.ACK_WAIT_MS, maxDeliver: c.MAX_ATTEMPTS + 1, maxAckPending: 10000 }),
        }),
        StorageModule.forRoot(),
        LedgerModule,
        LoadingModule,
      ],
      controllers: [ProcessorConsumer],
      providers: [ArchiveExpander, FileProcessorService, BatchProcessorService, LedgerFallback],
    };
  }
}
