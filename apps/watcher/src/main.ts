import 'reflect-metadata';
import { WatcherConfig } from '@sluice/config';
import { bootstrapService } from '@sluice/observability';
import { WatcherModule } from '@sluice/watcher-feature';

void bootstrapService(() => WatcherModule.forRoot(), {
  port: (app) => app.get(WatcherConfig).WATCHER_PORT,
});
