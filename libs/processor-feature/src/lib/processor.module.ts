import { Module } from '@nestjs/common';
import { ConfigModule, ProcessorConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';

@Module({
  imports: [
    ConfigModule.forRoot(ProcessorConfig),
    ObservabilityModule.forRoot('processor'),
    DbModule.forRoot({ applicationName: 'sluice-processor' }),
    MessagingModule.forRoot('sluice-processor'),
  ],
})
export class ProcessorModule {}
