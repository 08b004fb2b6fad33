/** A PostgreSQL name Sluice can write into SQL: lower case, at most 63 bytes (PostgreSQL's limit). */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A checked name, double-quoted for SQL (a reserved word works as a name too); anything else is refused before it can reach SQL. */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new Error(`"${String(name).slice(0, 80)}" is not a valid table, schema or column name (lowercase letters, digits and _, not starting with a digit, at most 63).`);
  }
  return `"${name}"`;
}
