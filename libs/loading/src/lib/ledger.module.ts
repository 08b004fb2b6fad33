import { Module } from '@nestjs/common';
import { LedgerRepository } from './ledger.repository';
import { S3ObjectsRepository } from './s3-objects.repository';
import { StoredPayloads } from './stored-payloads.repository';

/** The ledger's repositories: ingest_files, the payloads stored in the database, and s3_objects. Needs the app's DataSource (DbModule). */
@Module({
  providers: [LedgerRepository, StoredPayloads, S3ObjectsRepository],
  exports: [LedgerRepository, StoredPayloads, S3ObjectsRepository],
})
export class LedgerModule {}
