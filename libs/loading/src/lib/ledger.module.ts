import { Module } from '@nestjs/common';
import { LedgerAnnouncer } from './ledger-announcer';
import { LedgerRepository } from './ledger.repository';
import { S3ObjectsRepository } from './s3-objects.repository';
import { StoredPayloads } from './stored-payloads.repository';

/**
 * The ledger's repositories (ingest_files, the payloads stored in the database, s3_objects) and the one step
 * that registers files and announces them. Needs the app's DataSource (DbModule) and JetStreamService
 * (MessagingModule).
 */
@Module({
  providers: [LedgerRepository, StoredPayloads, S3ObjectsRepository, LedgerAnnouncer],
  exports: [LedgerRepository, StoredPayloads, S3ObjectsRepository, LedgerAnnouncer],
})
export class LedgerModule {}
