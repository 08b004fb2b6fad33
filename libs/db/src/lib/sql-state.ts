/** The PostgreSQL error codes (SQLSTATE) the product acts on, by their PostgreSQL names. */
export const SqlState = {
  uniqueViolation: '23505',
  checkViolation: '23514',
  lockNotAvailable: '55P03',
  idleInTransactionSessionTimeout: '25P03',
} as const;

/** Whether `e` is a PostgreSQL error with this SQLSTATE. */
export function hasSqlState(e: unknown, state: (typeof SqlState)[keyof typeof SqlState]): boolean {
  return (e as { code?: unknown } | null)?.code === state;
}

/**
 * A row a statement routed to a table's default partition after a partition for its range was attached meanwhile
 * (a statement routes by the partitions there were when it started): PostgreSQL refuses it rather than leave it in
 * the wrong partition. Not the data's fault; the same rows load when the statement runs again.
 */
export function isConcurrentPartitionChange(e: unknown): boolean {
  return hasSqlState(e, SqlState.checkViolation) && /violates partition constraint/.test(String((e as { message?: unknown } | null)?.message ?? ''));
}
