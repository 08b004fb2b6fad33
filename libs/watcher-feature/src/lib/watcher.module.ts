import { Module } from '@nestjs/common';
import { ConfigModule, WatcherConfig } from '@sluice/config';
import { DbModule } from '@sluice/db';
import { MessagingModule } from '@sluice/messaging';
import { ObservabilityModule } from '@sluice/observability';

@Module({
  imports: [
    ConfigModule.forRoot(WatcherConfig),
    ObservabilityModule.forRoot('watcher'),
    DbModule.forRoot({ applicationName: 'sluice-watcher' }),
    MessagingModule.forRoot('sluice-watcher'),
  ],
})
export class WatcherModule {}
