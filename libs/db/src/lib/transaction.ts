import type { PoolClient } from 'pg';

/** What a transaction needs of a pg client. */
export interface TransactionClient {
  query(text: string): Promise<unknown>;
}

/**
 * Lends one connection of its pool and takes it back: TypeORM's DataSource, whose query runner's
 * `connect()` is a pg client of the pool and `release()` gives it back.
 */
export interface ConnectionPool {
  createQueryRunner(): { connect(): Promise<unknown>; release(): Promise<void> };
}

function isPool(on: ConnectionPool | TransactionClient): on is ConnectionPool {
  return typeof (on as Partial<ConnectionPool>).createQueryRunner === 'function';
}

/** Runs `work` on one pg client of the pool, given back however `work` ends. */
export async function withConnection<T>(pool: ConnectionPool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const runner = pool.createQueryRunner();
  try {
    return await work((await runner.connect()) as PoolClient);
  } finally {
    await runner.release();
  }
}

/**
 * Runs `work` in one transaction: BEGIN, then COMMIT when it resolves or ROLLBACK when it throws (the
 * ROLLBACK's own failure is dropped: the first error is the one that matters). A failed COMMIT is thrown
 * as it is, with no ROLLBACK: the server has ended the transaction either way, and whether it committed is
 * unknown (the connection may be gone). Given a pool, it takes a client for the transaction and gives it
 * back; given a client, the caller keeps it.
 */
export function withTransaction<T>(pool: ConnectionPool, work: (client: PoolClient) => Promise<T>): Promise<T>;
export function withTransaction<C extends TransactionClient, T>(client: C, work: (client: C) => Promise<T>): Promise<T>;
export function withTransaction<T>(on: ConnectionPool | TransactionClient, work: (client: never) => Promise<T>): Promise<T> {
  // The overloads tie the client's type to `work`; here any client will do.
  const run = work as (client: TransactionClient) => Promise<T>;
  return isPool(on) ? withConnection(on, (client) => inTransaction(client, run)) : inTransaction(on, run);
}

async function inTransaction<C extends TransactionClient, T>(client: C, work: (client: C) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  let result: T;
  try {
    result = await work(client);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  await client.query('COMMIT');
  return result;
}
