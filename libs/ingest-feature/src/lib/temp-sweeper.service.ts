import { Injectable, Logger } from '@nestjs/common';
import { UploadWriter } from '@sluice/storage';

/** `.<fileId>.<8 hex>.tmp`: what UploadWriter.writeProcessing writes before the rename. */
const TEMP_NAME = /^\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[0-9a-f]{8}\.tmp$/;
/** An upload in progress writes its temp file continuously; one untouched this long was abandoned by a crash. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/**
 * Removes temp files of payloads and uploads a killed ingest-api left in processing/ (the watcher ignores
 * dotfiles, so nobody else would). At start and then hourly (IngestApiJobs); only files idle for an hour, so an upload of
 * another replica that is still being written is never touched.
 */
@Injectable()
export class TempSweeper {
  private readonly logger = new Logger(TempSweeper.name);

  constructor(private readonly drop: UploadWriter) {}

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    try {
      for (const e of await this.drop.listProcessing()) {
        if (e.type !== 'file' || !TEMP_NAME.test(e.name) || now - e.mtimeMs < ABANDONED_AFTER_MS) continue;
        await this.drop.discardProcessing(e.storedPath);
        removed++;
      }
      if (removed) this.logger.warn(`removed ${removed} abandoned temp file(s) from processing/`);
    } catch (e) {
      this.logger.warn(`sweeping processing/ for abandoned temp files failed: ${(e as Error).message}`);
    }
    return removed;
  }
}
