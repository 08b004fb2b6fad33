import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { ContractsModule, LedgerModule, LoadingModule } from '@sluice/loading';
import { JetStreamConsumerModule, MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';
import { StorageModule } from '@sluice/storage';
import { ArchiveExpander } from './archive-expander.service';
import { BatchProcessorService } from './batch-processor.service';
import { FileProcessorService } from './file-processor.service';
import { LedgerFallback } from './ledger-fallback.service';
import { WarmStart } from './warm-start.service';
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
        JetStreamConsumerModule.forRootAsync({
          inject: [ProcessorConfig],
          useFactory: (c: ProcessorConfig) => ({ subjects: PROCESSOR_SUBJECTS, durable: PROCESSOR_DURABLE, concurrency: c.PROCESSOR_CONCURRENCY, ackWaitMs: c.ACK_WAIT_MS, attempts: processorAttempts(c), maxAckPending: 10000 }),
        }),
        StorageModule.forRoot(),
        LedgerModule,
        // The data contracts files no built-in kind takes are loaded through.
        ContractsModule,
        LoadingModule,
      ],
      controllers: [ProcessorConsumer],
      providers: [ArchiveExpander, FileProcessorService, BatchProcessorService, LedgerFallback, WarmStart],
    };
  }
}
