import 'reflect-metadata';
import { ProcessorConfig } from '@sluice/config';
import { JetStreamServer } from '@sluice/messaging';
import { bootstrapService } from '@sluice/observability';
import { ProcessorModule } from '@sluice/processor-feature';

// A hybrid app: HTTP for health and metrics, the JetStream transport for its @EventPattern handlers.
void bootstrapService(() => ProcessorModule.forRoot(), {
  port: (app) => app.get(ProcessorConfig).PROCESSOR_PORT,
  configure: (app) => app.connectMicroservice({ strategy: app.get(JetStreamServer) }),
});
