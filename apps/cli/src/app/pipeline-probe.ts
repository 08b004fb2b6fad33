import { FileSubjects } from '@sluice/contracts';
import type { JetStreamService } from '@sluice/messaging';

export interface PipelineProbe {
  /** A consumer of queued files has a pull request waiting or a message in hand: a processor is alive. */
  processors: boolean;
  /** Something consumes the lifecycle outcomes (the watcher, which moves files out of processing/). */
  outcomes: boolean;
}

/**
 * Who is consuming, from the stream's consumers: a live pull consumer keeps requests waiting (or messages
 * unacknowledged while it works). A consumer that exists but has neither has nobody behind it.
 */
export async function probePipeline(js: JetStreamService): Promise<PipelineProbe> {
  const queued = js.subject(FileSubjects.queued);
  const wildcard = `${js.namespace}.files.>`;
  const probe: PipelineProbe = { processors: false, outcomes: false };
  for await (const ci of js.jsm.consumers.list(js.stream)) {
    const alive = (ci.num_waiting ?? 0) > 0 || (ci.num_ack_pending ?? 0) > 0;
    if (!alive) continue;
    const filter = ci.config.filter_subject ?? '';
    if (filter === queued) probe.processors = true;
    else if (filter === wildcard) probe.outcomes = true;
  }
  return probe;
}
