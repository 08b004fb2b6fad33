import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('Database');

/**
 * pg's Pool listens for errors on idle clients only. A client checked out by a transaction that is busy
 * elsewhere (a load still parsing its file) whose backend dies (pg_terminate_backend, a server restart)
 * emits 'error' with no listener, which ends the process. Here every client has one: the transaction's
 * next query fails instead, and the work is retried like any lost connection.
 */
class ListenedPool extends pg.Pool {
  constructor(config?: pg.PoolConfig) {
    super(config);
    this.on('connect', (client) => client.on('error', (e: Error) => logger.warn(`a database connection in use was lost: ${e.message}`)));
  }
}

/** The pg module as TypeORM's `driver`, with the pool above. */
export const pgDriver: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Pool: ListenedPool });
