import type { Stack } from '@sluice/testing';
import type { FaultKind } from './faults';

/** Faults after which the campaign records how long the pipeline takes to resume. */
export const RESUME_FAULTS: readonly FaultKind[] = ['nats-node', 'nats-restart'];

/**
 * How long the pipeline took to resume after a NATS fault, from `fromMs` (the node lost for `nats-node`, the
 * servers listening again for `nats-restart`): the shortest wait, among the ledger rows the processors finished
 * after it (`processed` or `quarantined`, by `finished_at`), from `fromMs` or the row's queueing, whichever came
 * later, to its finish. A file that arrived after the fault counts from its arrival, so the time does not depend
 * on when the fault struck in the load. Undefined when no row finished after `fromMs`: nothing was left to resume.
 */
export async function resumeMs(stack: Stack, fromMs: number): Promise<number | undefined> {
  const [row] = await stack.query<{ ms: number | null }>(
    `SELECT min(extract(epoch FROM finished_at - greatest(queued_at, to_timestamp($1::double precision / 1000))) * 1000)::float8 AS ms
       FROM ingest_files WHERE status IN ('processed', 'quarantined') AND finished_at >= to_timestamp($1::double precision / 1000)`,
    [fromMs],
  );
  return row?.ms ?? undefined;
}
