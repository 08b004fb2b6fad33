import 'reflect-metadata';
import { WatcherConfig } from '@sluice/config';
import { JetStreamServer } from '@sluice/messaging';
import { runService } from '@sluice/observability';
import { WatcherModule } from '@sluice/watcher-feature';

// A hybrid app: HTTP for health and metrics, the JetStream transport for its @EventPattern handlers.
void runService('watcher', () => WatcherModule.forRoot(), {
  port: (app) => app.get(WatcherConfig).WATCHER_PORT,
  portVariable: 'WATCHER_PORT',
  configure: (app) => app.connectMicroservice({ strategy: app.get(JetStreamServer) }),
});
