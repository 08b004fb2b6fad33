import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('Database');

/**
 * What makes PostgreSQL notice a client that is gone. PostgreSQL sees a client's end only when it next reads
 * from it, and a client can vanish without its FIN reaching the server (a host or a container's network gone
 * with unsent data); the backend then waits for the rest of a COPY, or for the next statement, holding its
 * transaction's row locks until TCP gives up: two hours by default. Meanwhile every other replica finds that
 * file's ledger row held, and the watcher's requeue skips it as being worked on. Keepalives end such a
 * session about a minute after the client's last packet.
 */
const DEAD_CLIENT_KEEPALIVES = `SELECT set_config('tcp_keepalives_idle', '30', false), set_config('tcp_keepalives_interval', '10', false), set_config('tcp_keepalives_count', '3', false)`;
/**
 * And a statement still running for a client that has closed its connection (a lock wait, a long upsert)
 * is cancelled within seconds instead of holding its locks to its end: PostgreSQL 14 and later, where the
 * server's platform can tell (not Windows; the setting is then left alone).
 */
const DEAD_CLIENT_CHECK = `SELECT set_config('client_connection_check_interval', '5000', false) WHERE current_setting('server_version_num')::int >= 140000`;

/** Applied to every new connection before it is handed out; a server that refuses one keeps its default. */
async function noticeDeadClients(client: pg.ClientBase): Promise<void> {
  for (const sql of [DEAD_CLIENT_KEEPALIVES, DEAD_CLIENT_CHECK]) {
    await client.query(sql).catch((e: Error) => logger.warn(`could not apply a session setting (${e.message}); the server's default stays`));
  }
}

/**
 * pg's Pool listens for errors on idle clients only. A client checked out by a transaction that is busy
 * elsewhere (a load still parsing its file) whose backend dies (pg_terminate_backend, a server restart)
 * emits 'error' with no listener, which ends the process. Here every client has one: the transaction's
 * next query fails instead, and the work is retried like any lost connection.
 */
class ListenedPool extends pg.Pool {
  constructor(config?: pg.PoolConfig) {
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- pg-pool awaits onConnect before it hands the connection out (its type says void)
    super({ ...config, onConnect: noticeDeadClients });
    this.on('connect', (client) => client.on('error', (e: Error) => logger.warn(`a database connection in use was lost: ${e.message}`)));
  }
}

/** The pg module as TypeORM's `driver`, with the pool above. */
export const pgDriver: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Pool: ListenedPool });
