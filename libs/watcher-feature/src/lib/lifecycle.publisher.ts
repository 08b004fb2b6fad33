import { Injectable } from '@nestjs/common';
import { FileSubjects, type FileQueuedMessage } from '@sluice/contracts';
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

  async duplicate(row: IngestFile): Promise<void> {
    await this.jetstream.publish(FileSubjects.duplicate, lifecycleEventOf(row), `${row.id}.duplicate`);
  }
}
