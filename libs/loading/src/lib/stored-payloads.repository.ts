import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rowsOf } from '@sluice/db';
import type { Sql } from './ledger.repository';

/** The stored_path of a payload kept in ingest_payloads. No drop-folder area has this name. */
export const DATABASE_AREA = 'database';

export function databaseStoredPath(fileId: string): string {
  return `${DATABASE_AREA}/${fileId}`;
}

export function isStoredInDatabase(storedPath: string): boolean {
  return storedPath.startsWith(`${DATABASE_AREA}/`);
}

/** Raw bodies of small API payloads (table ingest_payloads), written with their ledger rows (LedgerRepository.registerMany). */
@Injectable()
export class StoredPayloads {
  constructor(private readonly ds: DataSource) {}

  async read(fileId: string, sql: Sql = this.ds): Promise<Buffer | null> {
    return (await this.readMany([fileId], sql)).get(fileId) ?? null;
  }

  async readMany(fileIds: readonly string[], sql: Sql = this.ds): Promise<Map<string, Buffer>> {
    if (fileIds.length === 0) return new Map();
    const rows = rowsOf<{ file_id: string; body: Buffer }>(await sql.query(`SELECT file_id, body FROM ingest_payloads WHERE file_id = ANY($1::uuid[])`, [fileIds]));
    return new Map(rows.map((r) => [r.file_id, r.body]));
  }
}
