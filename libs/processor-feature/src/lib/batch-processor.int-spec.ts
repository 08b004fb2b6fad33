import 'reflect-metadata';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchSubjects, FileSubjects, type FileBatchFinishedMessage, type FileLifecycleEvent } from '@sluice/contracts';
import { databaseStoredPath, LedgerRepository } from '@sluice/loading';
import type { JetStreamService } from '@sluice/messaging';
import { FIXTURES, waitFor } from '@sluice/testing';
import type { Pool } from 'pg';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';
import { BatchProcessorService } from './batch-processor.service';

/** The seed payload with another time_stamp and, optionally, other samples. */
const seed = readFileSync(join(FIXTURES, 'json', 'payload.json'), 'utf8');
const measurement = (timeStamp: string, data?: unknown[]) => {
  const doc = JSON.parse(seed) as { time_stamp: string; data: unknown[] };
  return Buffer.from(JSON.stringify({ ...doc, time_stamp: timeStamp, ...(data ? { data } : {}) }, null, 2));
};

describe('processor: batches of API payloads stored in the database', () => {
  let t: ProcessorTestApp;
  let pool: Pool;
  let ledger: LedgerRepository;
  let js: JetStreamService;
  const finished: FileLifecycleEvent[][] = [];
  const single: FileLifecycleEvent[] = [];

  const query = <T>(sql: string, params: unknown[] = []) => t.query<T>(sql, params);

  beforeAll(async () => {
    t = await startProcessorApp('batchproc');
    ({ pool, js } = t);
    ledger = t.app.get(LedgerRepository);
    await t.listen<FileBatchFinishedMessage>('spec-batch-outcomes', BatchSubjects.finished, (m) => finished.push(m.events));
    await t.listen<FileLifecycleEvent>('spec-outcomes', FileSubjects.processed, (e) => single.push(e));
  });

  afterAll(async () => {
    await t?.close();
  });

  /** What the ingest-api does: ledger rows and bodies in one transaction. Returns the ids in order. */
  async function store(bodies: Array<{ name: string; body: Buffer }>): Promise<string[]> {
    const entries = bodies.map((b) => ({ id: randomUUID(), source: 'api' as const, originalName: b.name, sha256: createHash('sha256').update(b.body).digest('hex'), sizeBytes: b.body.length }));
    const client = await pool.connect();
    try {
      await ledger.registerMany(client, entries.map((e) => ({ ...e, storedPath: databaseStoredPath(e.id) })), new Map(entries.map((e, i) => [e.id, bodies[i].body])));
    } finally {
      client.release();
    }
    return entries.map((e) => e.id);
  }

  const statuses = async (ids: string[]) =>
    Object.fromEntries((await query<{ id: string; status: string }>('SELECT id, status FROM ingest_files WHERE id = ANY($1::uuid[])', [ids])).map((r) => [r.id, r.status]));
  const allTerminal = async (ids: string[]) => Object.values(await statuses(ids)).every((s) => !['queued', 'processing'].includes(s));

  it('loads every payload of a batch message in one transaction and announces them in one message', async () => {
    const good = Array.from({ length: 40 }, (_, i) => ({ name: `m${i}.json`, body: measurement(new Date(Date.UTC(2030, 0, 1, 0, i)).toISOString()) }));
    const bad = { name: 'bad.json', body: measurement('2030-02-01T00:00:00Z', [1, 'x', 3]) };
    const ndjson = { name: 'lines.ndjson', body: Buffer.from(`${JSON.stringify({ kind: 'measurement', time_stamp: '2030-03-01T00:00:00Z', data: [1, 2, 3] })}\n`) };
    const binary = { name: 'blob.json', body: Buffer.from([0xff, 0xfe, 0x00, 0x01]) };
    const ids = await store([...good, bad, ndjson, binary]);
    await js.publish(BatchSubjects.queued, { fileIds: ids }, `batch.${ids[0]}`);
    await waitFor('batch terminal', () => allTerminal(ids), 20000);

    const s = await statuses(ids);
    expect(ids.slice(0, 40).map((id) => s[id])).toEqual(Array(40).fill('processed'));
    expect([s[ids[40]], s[ids[41]], s[ids[42]]]).toEqual(['quarantined', 'processed', 'quarantined']);
    const rows = await query<{ file_id: string; sample_count: number }>('SELECT file_id, sample_count FROM measurements WHERE file_id = ANY($1::uuid[])', [ids]);
    expect(rows).toHaveLength(41);
    expect(new Set(rows.map((r) => r.file_id))).toEqual(new Set([...ids.slice(0, 40), ids[41]]));
    // A measurement is a row of measurements, not a reading: the ledger says which table its row is in.
    const ledgerRows = await query<{ rows_loaded: string; rows_written: string; rows_written_by_table: Record<string, number>; attempts: number }>(
      'SELECT rows_loaded, rows_written, rows_written_by_table, attempts FROM ingest_files WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)',
      [[ids[0], ids[40], ids[41]]],
    );
    expect(ledgerRows).toEqual([
      { rows_loaded: '1', rows_written: '1', rows_written_by_table: { measurements: 1 }, attempts: 1 },
      { rows_loaded: '0', rows_written: '0', rows_written_by_table: {}, attempts: 1 },
      { rows_loaded: '1', rows_written: '1', rows_written_by_table: { measurements: 1 }, attempts: 1 },
    ]);
    // The refused document names its field and line, like a dropped file.
    const [err] = await query<{ line: number; column: string; rule: string }>('SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1', [ids[40]]);
    expect(err).toMatchObject({ column: 'data[1]', rule: 'not_a_number' });
    expect(err.line).toBeGreaterThan(1);
    const [blob] = await query<{ error: { rule: string } }>('SELECT error FROM ingest_files WHERE id = $1', [ids[42]]);
    expect(blob.error.rule).toMatch(/invalid_utf8|unrecognized_format/);

    await waitFor('one batch announcement', async () => finished.some((events) => events.some((e) => e.fileId === ids[0])), 10000);
    const announced = finished.find((events) => events.some((e) => e.fileId === ids[0])) ?? [];
    expect(new Set(announced.map((e) => e.fileId))).toEqual(new Set(ids));
    expect(announced.find((e) => e.fileId === ids[40])?.status).toBe('quarantined');
  });

  it('a redelivered batch changes nothing; within a batch the later file wins', async () => {
    const [older] = await store([{ name: 'older.json', body: measurement('2030-05-01T00:00:00Z', [1, 1, 1]) }]);
    const [newer] = await store([{ name: 'newer.json', body: measurement('2030-05-01T00:00:00Z', [5, 5, 5, 5]) }]);
    // Newer first in the message: arrival order (the ledger's), not message order, decides.
    await js.publish(BatchSubjects.queued, { fileIds: [newer, older] }, `batch.${newer}`);
    await waitFor('both terminal', () => allTerminal([older, newer]), 20000);
    const read = () => query<{ file_id: string; mean: number; sample_count: number }>(`SELECT file_id, mean, sample_count FROM measurements WHERE timestamp_utc = '2030-05-01T00:00:00Z'`);
    expect(await read()).toEqual([{ file_id: newer, mean: 5, sample_count: 4 }]);

    const before = await query('SELECT * FROM measurements ORDER BY timestamp_utc');
    await js.publish(BatchSubjects.queued, { fileIds: [newer, older] }, `again.${newer}`);
    // A fresh payload queued after the redelivery: once it is done, the redelivery has been handled too.
    const [after] = await store([{ name: 'after.json', body: measurement('2030-05-02T00:00:00Z') }]);
    await js.publish(BatchSubjects.queued, { fileIds: [after] }, `batch.${after}`);
    await waitFor('the later batch', () => allTerminal([after]), 20000);
    await query('DELETE FROM measurements WHERE file_id = $1', [after]);
    expect(await query('SELECT * FROM measurements ORDER BY timestamp_utc')).toEqual(before);
    const attempts = await query<{ attempts: number }>('SELECT attempts FROM ingest_files WHERE id = ANY($1::uuid[])', [[older, newer]]);
    expect(attempts.map((a) => a.attempts)).toEqual([1, 1]);
  });

  it('counts a fresh payload\'s attempt with its outcome, and one whose earlier attempt died before it loads', async () => {
    const [fresh, died] = await store([
      { name: 'fresh.json', body: measurement('2030-07-01T00:00:00Z') },
      { name: 'died.json', body: measurement('2030-07-02T00:00:00Z') },
    ]);
    // What an attempt counted before a crash leaves: processing, one attempt.
    await query(`UPDATE ingest_files SET status = 'processing', attempts = 1, started_at = now() WHERE id = $1`, [died]);
    await js.publish(BatchSubjects.queued, { fileIds: [fresh, died] }, `batch.${fresh}`);
    await waitFor('both terminal', () => allTerminal([fresh, died]), 20000);
    const rows = await query<{ id: string; status: string; attempts: number; started: boolean }>(
      'SELECT id, status, attempts, started_at IS NOT NULL AND started_at <= finished_at AS started FROM ingest_files WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)',
      [[fresh, died]],
    );
    expect(rows).toEqual([
      { id: fresh, status: 'processed', attempts: 1, started: true },
      { id: died, status: 'processed', attempts: 2, started: true },
    ]);
    expect(await query('SELECT file_id FROM measurements WHERE file_id = ANY($1::uuid[])', [[fresh, died]])).toHaveLength(2);
    await waitFor('both announced', async () => [fresh, died].every((id) => finished.some((events) => events.some((e) => e.fileId === id))), 10000);
  });

  it('counts the attempt on its own before loading on a redelivery, with the outcome on a first delivery', async () => {
    const batches = t.app.get(BatchProcessorService);
    /** The ledger row as another connection sees it while a load waits on an uncommitted row of its measurement's time. */
    const whileLoading = async (timeStamp: string, firstDelivery: boolean) => {
      const [id] = await store([{ name: `held-${firstDelivery}.json`, body: measurement(timeStamp) }]);
      const holder = await pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`INSERT INTO measurements (timestamp_utc, mean, std_dev, sample_count, file_id, file_created_at) VALUES ($1, 0, 0, 1, $2, now())`, [timeStamp, randomUUID()]);
        const loading = batches.process([id], () => undefined, firstDelivery);
        await waitFor('the load waits on the held row', async () => (await query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%measurements%'`))[0].n > 0, 10000);
        const [during] = await query<{ status: string; attempts: number }>('SELECT status, attempts FROM ingest_files WHERE id = $1', [id]);
        await holder.query('ROLLBACK');
        await loading;
        const [after] = await query<{ status: string; attempts: number }>('SELECT status, attempts FROM ingest_files WHERE id = $1', [id]);
        return { during, after };
      } finally {
        holder.release();
      }
    };
    expect(await whileLoading('2030-07-03T00:00:00Z', false)).toEqual({ during: { status: 'processing', attempts: 1 }, after: { status: 'processed', attempts: 1 } });
    expect(await whileLoading('2030-07-04T00:00:00Z', true)).toEqual({ during: { status: 'queued', attempts: 0 }, after: { status: 'processed', attempts: 1 } });
  });

  it('a payload in the database also loads alone (a requeue or a replay)', async () => {
    const [id] = await store([{ name: 'alone.json', body: measurement('2030-06-01T00:00:00Z') }]);
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('processed alone', async () => (await statuses([id]))[id] === 'processed', 20000);
    expect(await query('SELECT file_id FROM measurements WHERE file_id = $1', [id])).toHaveLength(1);
    await waitFor('announced alone', async () => single.some((e) => e.fileId === id), 10000);
  });
});
