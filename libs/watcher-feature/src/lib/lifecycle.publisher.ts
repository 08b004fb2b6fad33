import { Injectable } from '@nestjs/common';
import { BatchSubjects, FileSubjects, type FileBatchQueuedMessage, type FileQueuedMessage } from '@sluice/contracts';
import type { IngestFile } from '@sluice/db';
import { lifecycleEventOf } from '@sluice/loading';
import { JetStreamService } from '@sluice/messaging';

/** The messages the watcher sends; msg ids make every publish safe to repeat. */
@Injectable()
export class LifecyclePublisher {
  constructor(private readonly jetstream: JetStreamService) {}

  /** Work for a processor. The first publish uses the file id; a requeue passes its own id (see Reconciler). */
  async queued(fileId: string, msgId = fileId): Promise<void> {
    const message: FileQueuedMessage = { fileId };
    await this.jetstream.publish(FileSubjects.queued, message, msgId);
  }

  /** Work for a processor: payloads stored in the database, loaded together (the caller keeps to MAX_BATCH_FILES and MAX_BATCH_BYTES). */
  async queuedBatch(rows: readonly IngestFile[], msgId: string): Promise<void> {
    const message: FileBatchQueuedMessage = { fileIds: rows.map((r) => r.id), bytes: rows.reduce((n, r) => n + Number(r.sizeBytes), 0) };
    await this.jetstream.publish(BatchSubjects.queued, message, msgId);
  }

  async duplicate(row: IngestFile): Promise<void> {
    await this.jetstream.publish(FileSubjects.duplicate, lifecycleEventOf(row), `${row.id}.duplicate`);
  }
}
