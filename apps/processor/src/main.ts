import 'reflect-metadata';
import { ProcessorConfig } from '@sluice/config';
import { bootstrapService } from '@sluice/observability';
import { ProcessorModule } from '@sluice/processor-feature';

void bootstrapService(() => ProcessorModule.forRoot(), {
  port: (app) => app.get(ProcessorConfig).PROCESSOR_PORT,
});
