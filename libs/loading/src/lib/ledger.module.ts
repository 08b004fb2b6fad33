import { Module } from '@nestjs/common';
import { FiledFilesRetention } from './filed-files-retention';
import { LedgerAnnouncer } from './ledger-announcer';
import { LedgerRetention } from './ledger-retention';
import { LedgerRepository } from './ledger.repository';
import { S3ObjectsRepository } from './s3-objects.repository';
import { StoredPayloads } from './stored-payloads.repository';

const PROVIDERS = [LedgerRepository, StoredPayloads, S3ObjectsRepository, LedgerAnnouncer, FiledFilesRetention, LedgerRetention];

/**
 * The ledger's repositories (ingest_files, the payloads stored in the database, s3_objects), the one step
 * that registers files and announces them, and retention (FiledFilesRetention, StoredPayloads.sweepExpired,
 * LedgerRetention). Needs the app's DataSource (DbModule), JetStreamService (MessagingModule) and drop folder
 * (StorageModule, for FiledFilesRetention).
 */
@Module({
  providers: PROVIDERS,
  exports: PROVIDERS,
})
export class LedgerModule {}
