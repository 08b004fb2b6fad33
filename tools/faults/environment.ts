import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { S3MidReadRelay, S3TestServer, Stack, startNatsCluster, startPrivatePostgres, type NatsCluster, type PrivatePostgres, type ServiceName } from '@sluice/testing';

/** The drop folder: a small tmpfs when this user may mount one (so the disk can be filled), else a plain folder. */
export interface DropFolder {
  dir: string;
  /** Whether the folder is a size-limited file system of its own. */
  limited: boolean;
  dispose(): void;
}

export function makeDropFolder(sizeMb: number): DropFolder {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-faults-drop-'));
  if (userInfo().uid === 0) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
      return {
        dir,
        limited: true,
        dispose: () => {
          execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch {
      // No mount here (a container without CAP_SYS_ADMIN): the disk-full fault is left out.
    }
  }
  return { dir, limited: false, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export const CAMPAIGN_SERVICES: Record<ServiceName, number> = { watcher: 2, processor: 3, 'ingest-api': 1, 'query-api': 1 };

/** The bucket the stack watches as the S3 source `landing`; objects land there as `s3://campaign/<key>`. */
export const CAMPAIGN_BUCKET = 'campaign';

export interface Environment {
  stack: Stack;
  pg: PrivatePostgres;
  nats: NatsCluster;
  drop: DropFolder;
  /** The S3 server (s3rver) whose bucket the watchers list. */
  s3: S3TestServer;
  /** The processors reach the S3 server through this relay, which can strike in the middle of a GET. */
  s3Relay: S3MidReadRelay;
  /** The harness's own connection for pg_terminate_backend (the stack's pool is reconnected per query). */
  admin(): Promise<Client>;
  dispose(): Promise<void>;
}

/**
 * A private PostgreSQL cluster, a three-node NATS cluster holding the stream at R3 on file storage, a small
 * tmpfs as the drop folder, an S3 server (s3rver) with one watched bucket, and two watchers, three
 * processors, an ingest-api and a query-api on them. The watchers list and hash objects on the S3 server
 * directly; the processors read them through a relay (S3MidReadRelay) that the mid-read faults use.
 */
export async function startEnvironment(logDir: string): Promise<Environment> {
  const drop = makeDropFolder(96);
  const started: Array<() => Promise<void> | void> = [() => drop.dispose()];
  // What came up is taken down again when a later part fails to start.
  const undo = async () => {
    for (const dispose of started.splice(0).reverse()) {
      try {
        await dispose();
      } catch {
        // Already gone.
      }
    }
  };
  let pg: PrivatePostgres, nats: NatsCluster, stack: Stack, s3: S3TestServer, s3Relay: S3MidReadRelay;
  try {
    s3 = await S3TestServer.start();
    started.push(() => s3.stop());
    await s3.createBucket(CAMPAIGN_BUCKET);
    s3Relay = await S3MidReadRelay.start(s3.endpoint);
    started.push(() => s3Relay.stop());
    const source = (endpoint: string) => JSON.stringify([s3.source(CAMPAIGN_BUCKET, { name: 'landing', endpoint })]);
    pg = await startPrivatePostgres();
    started.push(() => pg.dispose());
    nats = await startNatsCluster(3);
    started.push(() => nats.dispose());
    stack = await Stack.start({
      label: 'faults',
      natsUrl: nats.url,
      pgServerUrl: pg.url,
      dropzone: drop.dir,
      logDir,
      services: ['watcher', 'processor', 'ingest-api', 'query-api'],
      replicas: CAMPAIGN_SERVICES,
      env: {
        NATS_STREAM_REPLICAS: '3',
        LOG_LEVEL: 'warn',
        ACK_WAIT_MS: '3000',
        REQUEUE_AFTER_MS: '4000',
        RESCAN_INTERVAL_MS: '1000',
        STABILITY_WINDOW_MS: '300',
        INGEST_RATE_LIMIT: '0',
        S3_LIST_INTERVAL_MS: '1000',
        // An eighth of the 96 MiB tmpfs: the disk-full fault (which fills it to the last byte) crosses it, so the
        // watchers pause their claims and the ingest-api answers 503 disk_low until the filler is removed.
        MIN_FREE_DISK: '12MiB',
      },
      serviceEnv: { watcher: { S3_SOURCES: source(s3.endpoint) }, processor: { S3_SOURCES: source(s3Relay.endpoint) } },
    });
  } catch (e) {
    await undo();
    throw e;
  }
  return {
    stack,
    pg,
    nats,
    drop,
    s3,
    s3Relay,
    async admin() {
      const c = new Client({ connectionString: stack.db.url });
      await c.connect();
      return c;
    },
    async dispose() {
      await stack.stop().catch((e: Error) => process.stderr.write(`stack stop: ${e.message}\n`));
      await undo();
    },
  };
}
