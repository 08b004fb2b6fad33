import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { streamName } from '@sluice/contracts';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateMismatches, Stack, waitFor, wideCsv } from '@sluice/testing';

const METRICS = 7;

function dropText(stack: Stack, name: string, text: string): void {
  const staging = mkdtempSync(join(stack.dropzone, '..', 'staging-'));
  writeFileSync(join(staging, name), text);
  renameSync(join(staging, name), join(stack.dropzone, 'incoming', name));
}

describe('crashes: every file completes once, nothing is lost or doubled', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'faults', env: { ACK_WAIT_MS: '3000' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('survives SIGKILL of the processor in the middle of a large file', async () => {
    const lines = 240000;
    dropText(stack, 'large.csv', wideCsv({ lines, devices: ['k1', 'k2', 'k3'], startEpoch: 1.7e9 }));
    // Kill while the load transaction is open: the ledger says processing and COPY is running.
    await waitFor('COPY running', async () => {
      const rows = await stack.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'COPY raw_sensor_data%'`);
      return rows.length > 0;
    }, 60000, 20);
    await stack.kill('processor');
    expect(await stack.count('raw_sensor_data')).toBe(0);

    await stack.restart('processor');
    const statuses = await stack.waitForTerminal(1, 120000);
    expect(statuses).toEqual({ processed: 1 });
    expect(await stack.count('raw_sensor_data')).toBe(lines * METRICS);
    const [row] = await stack.query<{ attempts: number; rows_written: string }>(`SELECT attempts, rows_written FROM ingest_files`);
    // The killed attempt counts; on a busy machine a late heartbeat may add a redelivery, which must change nothing.
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(Number(row.rows_written)).toBe(lines * METRICS);
    await waitFor('processing/ empty', async () => readdirSync(join(stack.dropzone, 'processing')).length === 0);
    expect(await aggregateMismatches(stack)).toEqual([]);
  });

  it('survives SIGKILL of the watcher right after it claims a file', async () => {
    const before = await stack.count('raw_sensor_data');
    const files = 8;
    const lines = 2000;
    for (let i = 0; i < files; i++) dropText(stack, `claimed-${i}.csv`, wideCsv({ lines, devices: [`w${i}`], startEpoch: 1.8e9 }));
    // The moment a claimed file shows up in processing/, the watcher dies.
    await waitFor('a claimed file', async () => readdirSync(join(stack.dropzone, 'processing')).length > 0, 30000, 1);
    await stack.kill('watcher');
    await stack.restart('watcher');

    const statuses = await stack.waitForTerminal(1 + files, 120000);
    expect(statuses).toEqual({ processed: 1 + files });
    expect(await stack.count('raw_sensor_data')).toBe(before + files * lines * METRICS);
    await waitFor('processing/ and incoming/ empty', async () =>
      readdirSync(join(stack.dropzone, 'processing')).length === 0 && readdirSync(join(stack.dropzone, 'incoming')).length === 0,
    );
  });

  it('registers a file left in processing/ with no ledger row when the watcher starts', async () => {
    await stack.kill('watcher');
    const before = await stack.count('raw_sensor_data');
    const id = randomUUID();
    writeFileSync(join(stack.dropzone, 'processing', `${id}__orphan.csv`), wideCsv({ lines: 100, devices: ['orphan'], startEpoch: 1.9e9 }));
    await stack.restart('watcher');
    await waitFor('orphan processed', async () => {
      const rows = await stack.query<{ status: string }>(`SELECT status FROM ingest_files WHERE id = $1`, [id]);
      return rows[0]?.status === 'processed';
    }, 60000);
    expect(await stack.count('raw_sensor_data')).toBe(before + 100 * METRICS);
    await waitFor('orphan moved', async () => readdirSync(join(stack.dropzone, 'processed')).includes('orphan.csv'));
  });
});

describe('two processor replicas', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'replicas', processors: 2, env: { PROCESSOR_CONCURRENCY: '1' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('split the files between them and load exact counts', async () => {
    const files = 12;
    const lines = 6000;
    for (let i = 0; i < files; i++) dropText(stack, `r-${i}.csv`, wideCsv({ lines, devices: [`r${i}a`, `r${i}b`], startEpoch: 1.6e9 }));
    const statuses = await stack.waitForTerminal(files, 180000);
    expect(statuses).toEqual({ processed: files });
    expect(await stack.count('raw_sensor_data')).toBe(files * lines * METRICS);
    expect(await aggregateMismatches(stack)).toEqual([]);

    const processedBy = await Promise.all(
      [0, 1].map(async (i) => {
        const text = await (await fetch(`${stack.url('processor', i)}/metrics`)).text();
        const m = /sluice_processor_files_total\{[^}]*status="processed"[^}]*\} (\d+)/.exec(text);
        return m ? Number(m[1]) : 0;
      }),
    );
    expect(processedBy[0] + processedBy[1]).toBe(files);
    expect(processedBy[0]).toBeGreaterThan(0);
    expect(processedBy[1]).toBeGreaterThan(0);
  });
});

describe('a killed processor whose database session lives on', () => {
  let stack: Stack;
  let nc: NatsConnection;

  beforeAll(async () => {
    // Three deliveries a message (MAX_ATTEMPTS + 1), and a requeue too far away to be what saves the file.
    stack = await Stack.start({ label: 'heldrow', env: { ACK_WAIT_MS: '3000', MAX_ATTEMPTS: '2', REQUEUE_AFTER_MS: '3600000', PROCESSOR_CONCURRENCY: '1' } });
    nc = await connect({ servers: stack.natsUrl });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  it('loads a file whose ledger row a killed processor\'s session held', async () => {
    const lines = 1000;
    // The load transaction of the file will wait on this lock, holding the file's ledger row.
    const blocker = await stack.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE ingest_errors IN SHARE MODE');
      dropText(stack, 'held.csv', wideCsv({ lines, devices: ['held'], startEpoch: 1.75e9 }));
      await waitFor('the load waiting on the lock', async () => {
        const rows = await stack.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'DELETE FROM ingest_errors%'`);
        return rows.length > 0;
      });
      // Without more, PostgreSQL notices the dead client only when its backend next reads from it: not while
      // it waits for a lock, so the row stays held while the lock above is.
      await stack.kill('processor');
      await stack.restart('processor');
      // Either the dead session was ended (the new processor took the file and waits on the lock in turn) or
      // the new processor found the row held on more deliveries than one message has (and queued it again).
      const jsm = await jetstreamManager(nc);
      await waitFor('the file taken again, or delivered past max_deliver', async () => {
        const [row] = await stack.query<{ attempts: number }>(`SELECT attempts FROM ingest_files`);
        return row.attempts >= 2 || (await jsm.consumers.info(streamName(stack.namespace), 'processor')).delivered.consumer_seq > 3;
      }, 60000);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(await stack.waitForTerminal(1)).toEqual({ processed: 1 });
    expect(await stack.count('raw_sensor_data')).toBe(lines * METRICS);
  });
});
