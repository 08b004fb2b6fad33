import 'reflect-metadata';
import { WatcherConfig } from '@sluice/config';
import { JetStreamServer } from '@sluice/messaging';
import { bootstrapService } from '@sluice/observability';
import { WatcherModule } from '@sluice/watcher-feature';

// A hybrid app: HTTP for health and metrics, the JetStream transport for its @EventPattern handlers.
void bootstrapService(() => WatcherModule.forRoot(), {
  port: (app) => app.get(WatcherConfig).WATCHER_PORT,
  configure: (app) => app.connectMicroservice({ strategy: app.get(JetStreamServer) }),
});
