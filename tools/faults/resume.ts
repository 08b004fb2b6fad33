import type { Stack } from '@sluice/testing';
import type { FaultKind } from './faults';

/** Faults after which the campaign records how long the pipeline takes to resume. */
export const RESUME_FAULTS: readonly FaultKind[] = ['nats-node', 'nats-restart'];

/**
 * How long the pipeline took to resume after a NATS fault, from `fromMs` (the node lost for `nats-node`, the
 * servers listening again for `nats-restart`): the shortest wait, among the ledger rows the processors finished
 * after it (`processed` or `quarantined`, by `finished_at`), from `fromMs` or the row's queueing, whichever came
 * later, to its finish. A file that arrived after the fault counts from its arrival, so the time does not depend
 * on when the fault struck in the load. `lastMs`, the longest such wait, shows a stall of part of the pipeline
 * (one consumer stuck while the others go on). Undefined when no row finished after `fromMs`: nothing was left
 * to resume.
 */
export async function resumeMs(stack: Stack, fromMs: number): Promise<{ firstMs: number; lastMs: number } | undefined> {
  const [row] = await stack.query<{ first: number | null; last: number | null }>(
    `WITH waits AS (SELECT extract(epoch FROM finished_at - greatest(queued_at, to_timestamp($1::double precision / 1000))) * 1000 AS ms
                      FROM ingest_files WHERE status IN ('processed', 'quarantined') AND finished_at >= to_timestamp($1::double precision / 1000))
     SELECT min(ms)::float8 AS first, max(ms)::float8 AS last FROM waits`,
    [fromMs],
  );
  return row?.first != null && row.last != null ? { firstMs: row.first, lastMs: row.last } : undefined;
}
