import 'reflect-metadata';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSubjects, type FileLifecycleEvent } from '@sluice/contracts';
import { LedgerAnnouncer, LedgerRepository, StoredPayloads, WARM_UP_LINES } from '@sluice/loading';
import { ReplayService } from '@sluice/replay';
import { OutcomeFiling } from '@sluice/storage';
import { DataSource } from 'typeorm';
import type { JetStreamService } from '@sluice/messaging';
import { aggregateMismatches, expectedWide, FIXTURES, waitFor, wideCsv } from '@sluice/testing';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';
import { WARM_UP_PASSES, WarmStart } from './warm-start.service';

describe('processor', () => {
  let t: ProcessorTestApp;
  let ledger: LedgerRepository;
  let js: JetStreamService;
  let dropzone: string;
  const outcomes: FileLifecycleEvent[] = [];

  const query = <T>(sql: string, params: unknown[] = []) => t.query<T>(sql, params);

  beforeAll(async () => {
    t = await startProcessorApp('processor');
    ({ dropzone, js } = t);
    ledger = t.app.get(LedgerRepository);
    // Listen to outcomes the way the watcher does.
    await t.listen<FileLifecycleEvent>('spec-outcomes', FileSubjects.processed, (e) => outcomes.push(e));
  });

  afterAll(async () => {
    await t?.close();
  });

  const enqueue = (name: string, content: Buffer) => t.enqueue(name, content);
  const statusOf = (id: string) => t.statusOf(id);

  it('warms its loaders up on generated files before the first message, writing nothing', async () => {
    expect(t.app.get(WarmStart).lines).toBe(WARM_UP_PASSES * 2 * WARM_UP_LINES);
    const [counts] = await t.query<Record<string, string>>(`SELECT (SELECT count(*) FROM sensors) AS sensors, (SELECT count(*) FROM raw_sensor_data) AS readings`);
    expect(counts).toEqual({ sensors: '0', readings: '0' });
  });

  it('loads a queued sensor file in one transaction and announces the outcome', async () => {
    const path = join(FIXTURES, 'sensors', 'split_15.csv');
    const id = await enqueue('split_15.csv', readFileSync(path));
    await waitFor('processed', async () => (await statusOf(id)) === 'processed');
    const expected = expectedWide(path);
    const [row] = await query<{ rows_total: string; rows_rejected: string; rows_written: string; rows_written_by_table: Record<string, number>; kind: string; attempts: number }>(
      'SELECT rows_total, rows_rejected, rows_written, rows_written_by_table, kind, attempts FROM ingest_files WHERE id = $1',
      [id],
    );
    expect(row).toEqual({
      rows_total: String(expected.lines),
      rows_rejected: String(expected.badLines.length),
      rows_written: String(expected.readings),
      rows_written_by_table: { raw_sensor_data: expected.readings },
      kind: 'sensor_wide_csv',
      attempts: 1,
    });
    expect(Number((await query<{ n: string }>('SELECT count(*) AS n FROM raw_sensor_data'))[0].n)).toBe(expected.readings);
    expect(await aggregateMismatches({ query })).toEqual([]);
    await waitFor('outcome event', async () => outcomes.some((o) => o.fileId === id && o.status === 'processed'));
  });

  it('acks a redelivered message for a finished file without loading it again', async () => {
    const content = Buffer.from(wideCsv({ lines: 50, devices: ['again'], startEpoch: 1.8e9 }));
    const id = await enqueue('again.csv', content);
    await waitFor('processed', async () => (await statusOf(id)) === 'processed');
    const before = (await query<{ n: string }>('SELECT count(*) AS n FROM raw_sensor_data'))[0].n;
    // A republish past the de-duplication window looks like this: a new message id for the same file.
    await js.publish(FileSubjects.queued, { fileId: id }, `${id}.again`);
    await waitFor('consumer idle', async () => {
      const info = await js.jsm.consumers.info(js.stream, 'processor');
      return info.num_pending + info.num_ack_pending === 0;
    });
    expect((await query<{ n: string }>('SELECT count(*) AS n FROM raw_sensor_data'))[0].n).toBe(before);
    expect((await query<{ attempts: number }>('SELECT attempts FROM ingest_files WHERE id = $1', [id]))[0].attempts).toBe(1);
  });

  it('never marks processed a file that changed after its claim: quarantined changed_after_claim, nothing of it loaded', async () => {
    const full = wideCsv({ lines: 10, devices: ['still-writing'], startEpoch: 1.9e9 });
    const lines = full.split('\n');
    const claimedPart = Buffer.from(lines.slice(0, 4).join('\n') + '\n');
    // The watcher hashed the first lines; a writer that kept its descriptor appended the rest before the load.
    const id = randomUUID();
    const storedPath = `processing/${id}__still-writing.csv`;
    writeFileSync(join(dropzone, storedPath), full);
    const sha256 = createHash('sha256').update(claimedPart).digest('hex');
    await ledger.register({ id, source: 'dropzone', originalName: 'still-writing.csv', storedPath, sha256, sizeBytes: claimedPart.length });
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('terminal', async () => ['processed', 'quarantined'].includes((await statusOf(id)) ?? ''));
    const [row] = await query<{ status: string; rows_loaded: string; error: { rule: string; message: string } }>('SELECT status, rows_loaded, error FROM ingest_files WHERE id = $1', [id]);
    expect(row).toMatchObject({ status: 'quarantined', rows_loaded: '0', error: { rule: 'changed_after_claim' } });
    expect(row.error.message).toContain('STABILITY_WINDOW_MS');
    expect(await query('SELECT count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1', [id])).toEqual([{ n: 0 }]);
    expect(await aggregateMismatches({ query })).toEqual([]);
  });

  it('a replayed processed file keeps its rows_written and its outcome is announced again (not dropped as a repeat)', async () => {
    const content = Buffer.from(wideCsv({ lines: 20, devices: ['replayed'], startEpoch: 1.81e9 }));
    const id = await enqueue('replayed.csv', content);
    await waitFor('processed', async () => (await statusOf(id)) === 'processed');
    await waitFor('first outcome event', async () => outcomes.some((o) => o.fileId === id));
    const loaded = async () => (await query<{ rows_written: string }>('SELECT rows_written FROM ingest_files WHERE id = $1', [id]))[0].rows_written;
    const byTable = async () => (await query<{ t: Record<string, number> }>('SELECT rows_written_by_table AS t FROM ingest_files WHERE id = $1', [id]))[0].t;
    const first = await loaded();
    expect(Number(first)).toBeGreaterThan(0);
    expect(await byTable()).toEqual({ raw_sensor_data: Number(first) });
    // Where the watcher would have moved it.
    const ds = t.app.get(DataSource);
    await ds.query(`UPDATE ingest_files SET stored_path = 'processed/replayed.csv' WHERE id = $1`, [id]);
    mkdirSync(join(dropzone, 'processed'), { recursive: true });
    renameSync(join(dropzone, `processing/${id}__replayed.csv`), join(dropzone, 'processed/replayed.csv'));

    await new ReplayService(ds, ledger, new OutcomeFiling(dropzone), new LedgerAnnouncer(ledger, js), new StoredPayloads(ds)).replay(id);
    await waitFor('second outcome event', async () => outcomes.filter((o) => o.fileId === id).length === 2, 30000);
    expect(await statusOf(id)).toBe('processed');
    // The rows it loaded the first time are still in raw_sensor_data and still its own.
    expect(await loaded()).toBe(first);
    expect(await byTable()).toEqual({ raw_sensor_data: Number(first) });
    expect((await query<{ n: string }>('SELECT count(*)::text AS n FROM raw_sensor_data WHERE file_id = $1', [id]))[0].n).toBe(first);
  });

  it('quarantines an empty file and an unrecognised one with their reasons', async () => {
    const empty = await enqueue('empty.csv', Buffer.alloc(0));
    const binary = await enqueue('blob.bin', Buffer.from([0, 1, 2, 3, 255, 254, 0, 7]));
    await waitFor('both quarantined', async () => (await statusOf(empty)) === 'quarantined' && (await statusOf(binary)) === 'quarantined');
    const rows = await query<{ id: string; error: { rule: string; message: string } }>('SELECT id, error FROM ingest_files WHERE id = ANY($1)', [[empty, binary]]);
    const rule = (id: string) => rows.find((r) => r.id === id)!.error.rule;
    expect(rule(empty)).toBe('empty_file');
    expect(['unrecognized_format', 'invalid_utf8']).toContain(rule(binary));
  });

  it('routes JSON kinds by content to their loaders: the dir-monitor seeds, the variant later, the payload', async () => {
    const json = (name: string) => readFileSync(join(FIXTURES, 'json', name));
    const vehicles = await enqueue('vehicle_status_20240721T143000.json', json('vehicle_status_20240721T143000.json'));
    const detections = await enqueue('objects_detection_20240721T143000.json', json('objects_detection_20240721T143000.json'));
    const payload = await enqueue('payload.json', json('payload.json'));
    const empty = await enqueue('empty_file.json', json('empty_file.json'));
    await waitFor('all terminal', async () => {
      for (const id of [vehicles, detections, payload, empty]) if (!['processed', 'quarantined'].includes((await statusOf(id)) ?? '')) return false;
      return true;
    });
    const rows = await query<{ id: string; status: string; kind: string | null; rows_loaded: string; error: { rule: string } | null }>(
      'SELECT id, status, kind, rows_loaded, error FROM ingest_files WHERE id = ANY($1)',
      [[vehicles, detections, payload, empty]],
    );
    const row = (id: string) => rows.find((r) => r.id === id)!;
    expect(row(vehicles)).toMatchObject({ status: 'processed', kind: 'vehicle_status', rows_loaded: '3' });
    expect(row(detections)).toMatchObject({ status: 'processed', kind: 'detections', rows_loaded: '3' });
    expect(row(payload)).toMatchObject({ status: 'processed', kind: 'measurement', rows_loaded: '1' });
    expect(row(empty)).toMatchObject({ status: 'quarantined', error: { rule: 'empty_file' } });
    expect(await query('SELECT vehicle_id, status FROM vehicles_status ORDER BY 1')).toEqual([
      { vehicle_id: 'ebab5f787798416fb2b8afc1340d7a4e', status: 'driving' },
      { vehicle_id: 'ebae3f787798416fb2b8afc1340d7a6d', status: 'accident' },
      { vehicle_id: 'qbae3f787798416fb2b8afc1340ddf19', status: 'parking' },
    ]);
    expect(await query('SELECT count(*)::int AS n FROM detection_events WHERE file_id = $1', [detections])).toEqual([{ n: 6 }]);
    const [m] = await query<{ t: Date; sample_count: number }>('SELECT timestamp_utc AS t, sample_count FROM measurements');
    expect([m.t.toISOString(), m.sample_count]).toEqual(['2019-05-01T10:00:00.000Z', 100]);

    const variant = await enqueue('vehicle_status_20240721T143000.variant.json', json('vehicle_status_20240721T143000.variant.json'));
    await waitFor('variant processed', async () => (await statusOf(variant)) === 'processed');
    expect(await query('SELECT status FROM vehicles_status WHERE vehicle_id = $1', ['qbae3f787798416fb2b8afc1340ddf19'])).toEqual([{ status: 'accident' }]);
  });

  it('loads every good line of a mixed NDJSON file and records exactly the bad ones with their line numbers', async () => {
    const lines = [
      '{"kind":"vehicle_status","vehicle_id":"nd-1","report_time":"2023-01-01T00:00:00Z","status":"idle"}',
      '{"kind":"detection","vehicle_id":"nd-1","detection_time":"2023-01-01T00:00:00Z","detections":[{"object_type":"cars","object_value":1}]}',
      '{"kind":"sensor_reading","sensor":"nd/temp","ts":"2023-01-01T00:00:00+02:00","value":"1.2"}',
      '{"kind":"measurement","time_stamp":"2023-01-01T00:00:00+00:00","data":[1,2]}',
      '{"kind":"sensor_reading","sensor":"nd/temp","ts":"2023-01-01T00:00:00+02:00","value":1.2}',
      '{"kind":"detection","vehicle_id":"nd-1","detection_time":"2023-01-01T00:01:00Z","detections":[{"object_type":"cars","object_value":-1}]}',
    ];
    // 44 more good readings: 2 bad of 50 is within the default MAX_INVALID_RATIO (5%)
    for (let i = 0; i < 44; i++) lines.push(`{"kind":"sensor_reading","sensor":"nd/temp","ts":"2023-01-02T00:${String(i).padStart(2, '0')}:00Z","value":${i}}`);
    const id = await enqueue('mixed.ndjson', Buffer.from(lines.join('\n') + '\n'));
    await waitFor('processed', async () => ['processed', 'quarantined'].includes((await statusOf(id)) ?? ''));
    const [row] = await query<{ status: string; kind: string; rows_loaded: string; rows_rejected: string }>('SELECT status, kind, rows_loaded, rows_rejected FROM ingest_files WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'processed', kind: 'ndjson', rows_loaded: '48', rows_rejected: '2' });
    expect(await query('SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1 ORDER BY line', [id])).toEqual([
      { line: 3, column: 'value', rule: 'not_a_number' },
      { line: 6, column: 'detections[0].object_value', rule: 'out_of_range' },
    ]);
    expect(await query('SELECT status FROM vehicles_status WHERE vehicle_id = $1', ['nd-1'])).toEqual([{ status: 'idle' }]);
    expect(await query('SELECT count(*)::int AS n FROM detection_events WHERE vehicle_id = $1', ['nd-1'])).toEqual([{ n: 1 }]);
    expect(await query(`SELECT count(*)::int AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name = 'nd/temp'`)).toEqual([{ n: 45 }]);
    expect(await aggregateMismatches({ query })).toEqual([]);
  });

  it('quarantines broken JSON with a reason that says where: truncated, too deep, a measurement without offset', async () => {
    const truncated = await enqueue('cut.json', Buffer.from('{"vehicle_status": [\n  {"vehicle_id": "x", "report_time": "2022-05-05T22:02:34Z", "status": "dr'));
    const deep = await enqueue('deep.json', Buffer.from(`{"vehicle_status": ${'['.repeat(80)}${']'.repeat(80)}}`));
    const noOffset = await enqueue('m.json', Buffer.from('{\n  "time_stamp": "2019-05-01T06:00:00",\n  "data": [1]\n}'));
    await waitFor('all quarantined', async () => {
      for (const id of [truncated, deep, noOffset]) if ((await statusOf(id)) !== 'quarantined') return false;
      return true;
    });
    const error = async (id: string) => (await query<{ error: object }>('SELECT error FROM ingest_files WHERE id = $1', [id]))[0].error;
    expect(await error(truncated)).toMatchObject({ rule: 'truncated_json', line: 2 });
    expect(await error(deep)).toMatchObject({ rule: 'json_too_deep', line: 1 });
    expect(await error(noOffset)).toMatchObject({ rule: 'invalid_timestamp', line: 2, column: 'time_stamp', value: '"2019-05-01T06:00:00"', message: expect.stringContaining('line 2: time_stamp') });
    expect(await query('SELECT line, "column", rule FROM ingest_errors WHERE file_id = $1', [noOffset])).toEqual([{ line: 2, column: 'time_stamp', rule: 'invalid_timestamp' }]);
  });

  it('marks a file failed with the error once its attempts are used up', async () => {
    const id = randomUUID();
    // Registered but the bytes are gone: every attempt throws.
    await ledger.register({ id, source: 'dropzone', originalName: 'gone.csv', storedPath: `processing/${id}__gone.csv`, sha256: 'f'.repeat(64), sizeBytes: 10 });
    await js.publish(FileSubjects.queued, { fileId: id }, id);
    await waitFor('failed', async () => (await statusOf(id)) === 'failed', 30000);
    const [row] = await query<{ error: { rule: string; message: string } }>('SELECT error FROM ingest_files WHERE id = $1', [id]);
    expect(row.error.rule).toBe('processing_failed');
    expect(row.error.message.length).toBeGreaterThan(0);
  });
});
