/** The PostgreSQL error codes (SQLSTATE) the product acts on, by their PostgreSQL names. */
export const SqlState = {
  uniqueViolation: '23505',
  lockNotAvailable: '55P03',
  idleInTransactionSessionTimeout: '25P03',
} as const;

/** Whether `e` is a PostgreSQL error with this SQLSTATE. */
export function hasSqlState(e: unknown, state: (typeof SqlState)[keyof typeof SqlState]): boolean {
  return (e as { code?: unknown } | null)?.code === state;
}
