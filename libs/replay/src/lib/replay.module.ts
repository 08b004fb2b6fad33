import { Module } from '@nestjs/common';
import { LedgerModule } from '@sluice/loading';
import { ReplayService } from './replay.service';

/** Replay of terminal files. Needs the app's DataSource (DbModule), JetStream (MessagingModule) and drop folder (StorageModule). */
@Module({
  imports: [LedgerModule],
  providers: [ReplayService],
  exports: [ReplayService],
})
export class ReplayModule {}
