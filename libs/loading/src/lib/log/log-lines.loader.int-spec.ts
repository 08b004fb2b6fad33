import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_METRIC_RANGES, parseMetricRanges } from '@sluice/config';
import { createDataSource, withTransaction } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { DataSource } from 'typeorm';
import { LogLinesLoader, MAX_COUNTED_TAGS, OTHER_TAGS, type LoadOptions, type LoadResult } from '../../index';

const INPUT_LOG = readFileSync(join(__dirname, '../../../../../fixtures/logs/input.log'));
const skip: LoadOptions = { invalidRows: 'skip', maxInvalidRatio: 0.5, ranges: parseMetricRanges(DEFAULT_METRIC_RANGES), naiveTimeZone: 'UTC' };

describe(LogLinesLoader.name, () => {
  let db: TestDatabase;
  let ds: DataSource;
  const loader = new LogLinesLoader();

  beforeAll(async () => {
    db = await createTestDatabase('log_lines_loader');
    ds = createDataSource(db.url, { poolSize: 2 });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  async function register(): Promise<string> {
    const id = randomUUID();
    await ds.query(`INSERT INTO ingest_files (id, source, original_name, stored_path, sha256, size_bytes, status) VALUES ($1, 'dropzone', 'input.log', 'f', $2, 0, 'processing')`, [
      id,
      id.replace(/-/g, '').padEnd(64, '0'),
    ]);
    return id;
  }

  /** Loads like the processor: one transaction with the ledger row locked; the bytes in chunks of `chunk`. */
  async function load(body: Buffer | string, opts: Partial<LoadOptions> & { fileId?: string; chunk?: number } = {}): Promise<LoadResult & { fileId: string }> {
    const fileId = opts.fileId ?? (await register());
    const bytes = Buffer.from(body);
    const chunk = opts.chunk ?? 64 * 1024;
    const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
    return withTransaction(ds, async (client) => {
      await client.query('SELECT 1 FROM ingest_files WHERE id = $1 FOR UPDATE', [fileId]);
      return { ...(await loader.load(client, fileId, 'log', () => Readable.from(chunks), { ...skip, ...opts })), fileId };
    });
  }

  const lines = (fileId: string) =>
    ds.query(`SELECT line, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, tag, message FROM log_lines WHERE file_id = $1 ORDER BY line`, [fileId]);
  const tagCounts = async (fileId: string) => (await ds.query(`SELECT tag_counts FROM ingest_files WHERE id = $1`, [fileId]))[0].tag_counts;
  const errors = (fileId: string) => ds.query(`SELECT line, rule, message FROM ingest_errors WHERE file_id = $1 ORDER BY line`, [fileId]);

  it('loads the folder-queue seed: 4 lines tagged info, warn, error, info, counted per tag on the ledger row', async () => {
    const r = await load(INPUT_LOG);
    expect(r).toMatchObject({ rowsTotal: 4, rowsLoaded: 4, rowsRejected: 0, rejection: null });
    expect(r.rowsWritten).toEqual({ log_lines: 4 });
    expect(await lines(r.fileId)).toEqual([
      { line: 1, ts: null, tag: 'info', message: 'system booted' },
      { line: 2, ts: null, tag: 'warn', message: 'disk space low' },
      { line: 3, ts: null, tag: 'error', message: 'failed to connect' },
      { line: 4, ts: null, tag: 'info', message: 'user login' },
    ]);
    expect(await tagCounts(r.fileId)).toEqual({ error: 1, info: 2, warn: 1 });
  });

  it('keeps line numbers across blank lines and chunk borders, escapes what COPY would read, reads timestamps', async () => {
    const text = '\uFEFF2024-07-21T14:30:00Z INFO tab\there\r\n\n   \n[ERROR] back\\slash \\N\nplain text\n2024-07-21 16:30:00.25+02:00 [db] x\n';
    const r = await load(text, { chunk: 7 });
    expect(r).toMatchObject({ rowsTotal: 4, rowsLoaded: 4, rowsRejected: 0 });
    expect(await lines(r.fileId)).toEqual([
      { line: 1, ts: '2024-07-21T14:30:00.000000Z', tag: 'info', message: 'tab\there' },
      { line: 4, ts: null, tag: 'error', message: 'back\\slash \\N' },
      { line: 5, ts: null, tag: null, message: 'plain text' },
      { line: 6, ts: '2024-07-21T14:30:00.250000Z', tag: 'db', message: 'x' },
    ]);
  });

  it('reads CR-only line ends (old Mac text) as line ends, and a log whose lines open with a bracketed timestamp', async () => {
    const text = '[2024-07-21T14:30:00Z] error disk failed\r[2024-07-21T14:30:01Z] info ok\r\rplain\r\nlast';
    for (const chunk of [1, 5, 64 * 1024]) {
      const r = await load(text, { chunk });
      expect(r).toMatchObject({ rowsTotal: 4, rowsLoaded: 4, rowsRejected: 0 });
      expect(await lines(r.fileId)).toEqual([
        { line: 1, ts: '2024-07-21T14:30:00.000000Z', tag: 'error', message: 'disk failed' },
        { line: 2, ts: '2024-07-21T14:30:01.000000Z', tag: 'info', message: 'ok' },
        { line: 4, ts: null, tag: null, message: 'plain' },
        { line: 5, ts: null, tag: null, message: 'last' },
      ]);
    }
  });

  it('records lines with a NUL, bytes that are not UTF-8 or over MAX_LINE_BYTES as row errors with their line, and loads the rest', async () => {
    const body = Buffer.concat([
      Buffer.from('info: one\nwarn: nul \u0000 here\n'),
      Buffer.from([0x65, 0x72, 0x72, 0x3a, 0x20, 0xe9, 0x0a]),
      Buffer.from(`debug: ${'x'.repeat(200)}\ninfo: last\n`),
    ]);
    const r = await load(body, { maxLineBytes: 100, chunk: 16, maxInvalidRatio: 0.75 });
    expect(r).toMatchObject({ rowsTotal: 5, rowsLoaded: 2, rowsRejected: 3, rejection: null });
    expect((await lines(r.fileId)).map((l: { line: number }) => l.line)).toEqual([1, 5]);
    expect(await errors(r.fileId)).toEqual([
      { line: 2, rule: 'invalid_character', message: expect.stringContaining('NUL') },
      { line: 3, rule: 'invalid_utf8', message: expect.stringContaining('UTF-8') },
      { line: 4, rule: 'line_too_long', message: expect.stringContaining('MAX_LINE_BYTES') },
    ]);
  });

  it('with INVALID_ROWS=reject, a bad line refuses the file and leaves no line and no count behind', async () => {
    const r = await load('info: a\nbad \u0000\ninfo: b\n', { invalidRows: 'reject' });
    expect(r.rejection).toMatchObject({ rule: 'invalid_character', line: 2 });
    expect(await lines(r.fileId)).toEqual([]);
    expect(await tagCounts(r.fileId)).toBeNull();
  });

  it('loading the same file again writes nothing and keeps its lines; changed lines are rewritten', async () => {
    const first = await load(INPUT_LOG);
    const before = await ds.query(`SELECT * FROM log_lines WHERE file_id = $1 ORDER BY line`, [first.fileId]);
    const again = await load(INPUT_LOG, { fileId: first.fileId });
    expect(again).toMatchObject({ rowsLoaded: 4 });
    expect(again.rowsWritten).toEqual({});
    expect(await ds.query(`SELECT * FROM log_lines WHERE file_id = $1 ORDER BY line`, [first.fileId])).toEqual(before);
    const changed = await load('info: system booted\nwarn: disk space low\n', { fileId: first.fileId });
    expect(changed).toMatchObject({ rowsLoaded: 2 });
    expect(changed.rowsWritten).toEqual({});
    expect((await lines(first.fileId)).map((l: { line: number }) => l.line)).toEqual([1, 2]);
    expect(await tagCounts(first.fileId)).toEqual({ info: 1, warn: 1 });
  });

  it('counts at most MAX_COUNTED_TAGS tags one by one, the rest together', async () => {
    const text = Array.from({ length: MAX_COUNTED_TAGS + 5 }, (_, i) => `t${String(i).padStart(3, '0')}: m`).join('\n');
    const counts = await tagCounts((await load(text)).fileId);
    expect(Object.keys(counts)).toHaveLength(MAX_COUNTED_TAGS + 1);
    expect(counts[OTHER_TAGS]).toBe(5);
  });

  it('finds a line through the full-text index expression', async () => {
    const r = await load(INPUT_LOG);
    const found = await ds.query(`SELECT message FROM log_lines WHERE file_id = $1 AND to_tsvector('simple', left(message, 65536)) @@ websearch_to_tsquery('simple', $2)`, [r.fileId, 'Connect']);
    expect(found).toEqual([{ message: 'failed to connect' }]);
  });
});
