import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LedgerAnnouncer, LedgerRepository, StoredPayloads } from '@sluice/loading';
import { ReplayService } from '@sluice/replay';
import { OutcomeFiling } from '@sluice/storage';
import { DataSource } from 'typeorm';
import { aggregateMismatches, expectedWide, FIXTURES, waitFor, writeGzipBomb, zipOf } from '@sluice/testing';
import { startProcessorApp, type ProcessorTestApp } from '../../test/processor-app';

const LIMIT = 8 * 1024 ** 2;
const sensorFile = (name: string) => join(FIXTURES, 'sensors', name);

interface LedgerRow {
  id: string;
  status: string;
  kind: string | null;
  original_name: string;
  compression: string | null;
  archive_id: string | null;
  member_index: number | null;
  rows_total: string;
  rows_written: string;
  error: { rule: string; message: string } | null;
}

jest.setTimeout(300_000);

describe('compressed files', () => {
  let t: ProcessorTestApp;
  const rowsOf = (where: string, params: unknown[]) =>
    t.query<LedgerRow>(
      `SELECT id, status, kind, original_name, compression, archive_id, member_index, rows_total, rows_written, error FROM ingest_files WHERE ${where} ORDER BY member_index NULLS FIRST, created_at`,
      params,
    );
  const terminal = async (id: string) => ['processed', 'quarantined', 'failed', 'duplicate'].includes((await t.statusOf(id)) ?? '');
  const readingsOf = async (device: string) => Number((await t.query<{ n: string }>(`SELECT count(*) AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name LIKE $1`, [`${device}/%`]))[0].n);

  beforeAll(async () => {
    t = await startProcessorApp('compressed', { MAX_DECOMPRESSED_BYTES: String(LIMIT), MAX_COMPRESSION_RATIO: '1000000' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('loads a gzip file as its content, and the same data uncompressed is a duplicate of it', async () => {
    const csv = readFileSync(sensorFile('split_15.csv'));
    const expected = expectedWide(sensorFile('split_15.csv'));
    const id = await t.enqueue('split_15.csv.gz', gzipSync(csv));
    await waitFor('gzip processed', () => terminal(id));
    const [row] = await rowsOf('id = $1', [id]);
    expect(row).toMatchObject({ status: 'processed', kind: 'sensor_wide_csv', compression: 'gzip', rows_written: String(expected.readings) });
    const plain = await t.enqueue('split_15.csv', csv);
    expect(await t.statusOf(plain)).toBe('duplicate');
    expect(Number((await t.query<{ n: string }>('SELECT count(*) AS n FROM raw_sensor_data'))[0].n)).toBe(expected.readings);
    expect(await aggregateMismatches({ query: t.query })).toEqual([]);
  });

  it('registers each member of a zip as a file of its own, linked to the archive, and refuses a nested archive', async () => {
    const names = ['split_2.csv', 'split_3.csv', 'split_30.csv'];
    const zip = await zipOf([
      ...names.map((name) => ({ name: `day/${name}`, content: readFileSync(sensorFile(name)) })),
      { name: 'day/inner.csv.gz', content: gzipSync(readFileSync(sensorFile('split_31.csv'))) },
    ]);
    const id = await t.enqueue('day.zip', zip);
    await waitFor('archive unpacked', () => terminal(id), 120_000);
    const [archive] = await rowsOf('id = $1', [id]);
    expect(archive).toMatchObject({ status: 'processed', kind: 'zip_archive', compression: 'zip', rows_total: '4', archive_id: null });
    const members = await rowsOf('archive_id = $1', [id]);
    expect(members.map((m) => [m.member_index, m.original_name])).toEqual([
      [0, 'day.zip/day/split_2.csv'],
      [1, 'day.zip/day/split_3.csv'],
      [2, 'day.zip/day/split_30.csv'],
      [3, 'day.zip/day/inner.csv.gz'],
    ]);
    await waitFor('members loaded', async () => (await Promise.all(members.map((m) => terminal(m.id)))).every(Boolean), 240_000);
    const done = await rowsOf('archive_id = $1', [id]);
    const expected = names.map((n) => expectedWide(sensorFile(n)).readings);
    expect(done.slice(0, 3).map((m) => [m.status, m.kind, Number(m.rows_written)])).toEqual(expected.map((r) => ['processed', 'sensor_wide_csv', r]));
    expect(done[3]).toMatchObject({ status: 'quarantined', error: { rule: 'nested_archive' } });
    expect(await aggregateMismatches({ query: t.query })).toEqual([]);
  });

  it('gives a member already loaded as a file the status duplicate, and replays a member from its archive', async () => {
    const csv = readFileSync(sensorFile('split_31.csv'));
    const first = await t.enqueue('split_31.csv', csv);
    await waitFor('plain processed', () => terminal(first));
    const id = await t.enqueue('again.zip', await zipOf([{ name: 'split_31.csv', content: csv }]));
    await waitFor('archive unpacked', () => terminal(id), 120_000);
    const [member] = await rowsOf('archive_id = $1', [id]);
    expect(member).toMatchObject({ status: 'duplicate' });
    // The original's replay reads it again; the member of the first zip reads it from its archive.
    const [loaded] = await rowsOf(`archive_id IS NOT NULL AND status = 'processed' AND original_name = $1`, ['day.zip/day/split_2.csv']);
    const readings = await readingsOf('b8:27:eb');
    const ds = t.app.get(DataSource);
    await new ReplayService(ds, t.app.get(LedgerRepository), new OutcomeFiling(t.dropzone), t.app.get(LedgerAnnouncer), new StoredPayloads(ds)).replay(loaded.id);
    await waitFor('member replayed', async () => (await t.statusOf(loaded.id)) === 'processed', 120_000);
    expect(await readingsOf('b8:27:eb')).toBe(readings);
  });

  it('quarantines a 10 GB gzip bomb after MAX_DECOMPRESSED_BYTES, and a zip member declaring more', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-bomb-'));
    try {
      await writeGzipBomb(join(dir, 'bomb.csv.gz'), 10 * 1024 ** 3, { head: 'ts,device,temp\n', fill: 0x0a });
      const bomb = await readFile(join(dir, 'bomb.csv.gz'));
      expect(bomb.length).toBeLessThan(20 * 1024 ** 2);
      const id = await t.enqueue('bomb.csv.gz', bomb);
      await waitFor('bomb quarantined', () => terminal(id), 120_000);
      const [row] = await rowsOf('id = $1', [id]);
      expect(row).toMatchObject({ status: 'quarantined', compression: 'gzip', error: { rule: 'decompression_limit', message: expect.stringContaining(`more than ${LIMIT} bytes (MAX_DECOMPRESSED_BYTES)`) } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const zipBomb = await t.enqueue('big.zip', await zipOf([{ name: 'zeros.csv', content: Buffer.alloc(LIMIT + 1) }]));
    await waitFor('zip bomb quarantined', () => terminal(zipBomb));
    const [archive] = await rowsOf('id = $1', [zipBomb]);
    expect(archive).toMatchObject({ status: 'quarantined', kind: 'zip_archive', error: { rule: 'decompression_limit' } });
    expect(await rowsOf('archive_id = $1', [zipBomb])).toEqual([]);
  });

  it('quarantines a corrupt zip as invalid_compression', async () => {
    const zip = await zipOf([{ name: 'a.csv', content: readFileSync(sensorFile('split_2.csv')) }]);
    const id = await t.enqueue('cut.zip', zip.subarray(0, zip.length - 30));
    await waitFor('corrupt zip quarantined', () => terminal(id));
    expect((await rowsOf('id = $1', [id]))[0]).toMatchObject({ status: 'quarantined', error: { rule: 'invalid_compression' } });
  });
});
