import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expectedWide, FIXTURES, Stack, waitFor, writeGzipBomb, zipOf } from '@sluice/testing';

const LIMIT = 8 * 1024 ** 2;
const sensorFile = (name: string) => join(FIXTURES, 'sensors', name);
const TERMINAL = `('processed','duplicate','quarantined','failed')`;

interface Row {
  id: string;
  status: string;
  kind: string | null;
  compression: string | null;
  archive_id: string | null;
  rows_written: string;
  error: { rule: string; message: string } | null;
}

jest.setTimeout(600_000);

describe('compressed files through the running services', () => {
  let stack: Stack;
  let outside: string;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'compressed', services: ['watcher', 'processor', 'ingest-api', 'query-api'], env: { STABILITY_WINDOW_MS: '300', MAX_DECOMPRESSED_BYTES: String(LIMIT), MAX_COMPRESSION_RATIO: '1000000' } });
    outside = mkdtempSync(join(tmpdir(), 'sluice-compressed-'));
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(outside, { recursive: true, force: true });
  });

  /** Written outside, renamed into incoming/ (as writers should). */
  const drop = (name: string, content: Buffer) => {
    writeFileSync(join(outside, name), content);
    renameSync(join(outside, name), join(stack.dropzone, 'incoming', name));
  };
  const rowNamed = async (name: string) =>
    waitFor(`${name} terminal`, async () => {
      const [r] = await stack.query<Row>(`SELECT id, status, kind, compression, archive_id, rows_written, error FROM ingest_files WHERE original_name = $1 AND status IN ${TERMINAL}`, [name]);
      return r;
    }, 300_000, 250);

  it('loads split_2.csv.gz as split_2.csv, and the plain file dropped after it is a duplicate', async () => {
    const csv = readFileSync(sensorFile('split_2.csv'));
    drop('split_2.csv.gz', gzipSync(csv));
    const gz = await rowNamed('split_2.csv.gz');
    expect(gz).toMatchObject({ status: 'processed', kind: 'sensor_wide_csv', compression: 'gzip', rows_written: String(expectedWide(sensorFile('split_2.csv')).readings) });
    drop('split_2.csv', csv);
    expect(await rowNamed('split_2.csv')).toMatchObject({ status: 'duplicate', compression: null });
    expect(await stack.count('raw_sensor_data')).toBe(expectedWide(sensorFile('split_2.csv')).readings);
  });

  it('loads every member of an uploaded zip as a file of its own, listed by /files under its archive', async () => {
    const names = ['split_3.csv', 'split_30.csv', 'split_31.csv'];
    const zip = await zipOf(names.map((name) => ({ name, content: readFileSync(sensorFile(name)) })));
    const res = await fetch(`${stack.url('ingest-api')}/ingest/files?filename=day.zip`, { method: 'POST', body: zip as Uint8Array<ArrayBuffer>, headers: { 'x-api-key': stack.ingestKey, 'content-type': 'application/zip' } });
    expect(res.status).toBe(202);
    const { raw_id } = (await res.json()) as { raw_id: string };
    const before = await stack.count('raw_sensor_data');
    const members = await waitFor('members loaded', async () => {
      const rows = await stack.query<Row>(`SELECT id, status, kind, compression, archive_id, rows_written, error FROM ingest_files WHERE archive_id = $1 AND status IN ${TERMINAL}`, [raw_id]);
      return rows.length === names.length ? rows : null;
    }, 300_000, 500);
    expect(members.map((m) => m.status)).toEqual(['processed', 'processed', 'processed']);
    const expected = names.reduce((n, name) => n + expectedWide(sensorFile(name)).readings, 0);
    expect(members.reduce((n, m) => n + Number(m.rows_written), 0)).toBe(expected);
    expect((await stack.count('raw_sensor_data')) - before).toBe(expected);

    const status = (await (await fetch(`${stack.url('ingest-api')}/ingest/${raw_id}`, { headers: { 'x-api-key': stack.ingestKey } })).json()) as { status: string; kind: string; rows_total: number };
    expect(status).toMatchObject({ status: 'processed', kind: 'zip_archive', rows_total: names.length });
    const listed = (await (await fetch(`${stack.url('query-api')}/files?archive_id=${raw_id}`, { headers: { 'x-api-key': stack.queryKey } })).json()) as {
      files: Array<{ original_name: string; archive_id: string; status: string }>;
    };
    expect(listed.files.map((f) => f.original_name).sort()).toEqual(names.map((n) => `day.zip/${n}`));
    expect(listed.files.every((f) => f.archive_id === raw_id)).toBe(true);
    // The archive leaves processing/ once its last member is done.
    await waitFor('archive moved', async () => {
      const [r] = await stack.query<{ stored_path: string }>(`SELECT stored_path FROM ingest_files WHERE id = $1`, [raw_id]);
      return r.stored_path.startsWith('processed/');
    }, 120_000, 500);
  });

  it('quarantines a 10 GB gzip bomb with its reason after reading at most MAX_DECOMPRESSED_BYTES', async () => {
    await writeGzipBomb(join(outside, 'bomb.csv.gz'), 10 * 1024 ** 3, { head: 'ts,device,temp\n', fill: 0x0a });
    renameSync(join(outside, 'bomb.csv.gz'), join(stack.dropzone, 'incoming', 'bomb.csv.gz'));
    const row = await rowNamed('bomb.csv.gz');
    expect(row).toMatchObject({ status: 'quarantined', compression: 'gzip', error: { rule: 'decompression_limit', message: expect.stringContaining(`more than ${LIMIT} bytes (MAX_DECOMPRESSED_BYTES)`) } });
    await waitFor('bomb in quarantine/', async () => readdirSync(join(stack.dropzone, 'quarantine'), { recursive: true }).some((n) => String(n).endsWith('bomb.csv.gz.error.json')), 60_000, 250);
    expect(existsSync(join(stack.dropzone, 'incoming', 'bomb.csv.gz'))).toBe(false);
  });
});
