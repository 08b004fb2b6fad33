/**
 * Rows from any query result shape: TypeORM returns `rows` for SELECT/INSERT and `[rows, count]` for
 * UPDATE … RETURNING; a raw pg client returns `{ rows }`.
 */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) {
    if (result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
    return result as T[];
  }
  return ((result as { rows?: T[] } | null)?.rows ?? []) as T[];
}
