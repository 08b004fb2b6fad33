import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, waitFor, wideCsv } from '@sluice/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Row {
  id: string;
  status: string;
  stored_path: string;
  sha256: string;
  rows_total: string;
  rows_loaded: string;
  error: { rule: string } | null;
}

/**
 * Writers that break the contract (they pause longer than STABILITY_WINDOW_MS while not done): the window
 * is 200 ms and they append a line every 500 ms, so the watcher claims their file while they still write.
 */
describe('slow writers never end as processed with rows missing', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'slowwriters', env: { STABILITY_WINDOW_MS: '200', RESCAN_INTERVAL_MS: '1000' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const rowsLike = (pattern: string) =>
    stack.query<Row>(`SELECT id, status, stored_path, sha256, rows_total, rows_loaded, error FROM ingest_files WHERE original_name LIKE $1 ORDER BY created_at`, [pattern]);
  const terminal = (pattern: string, atLeast: number) =>
    waitFor(`${pattern} terminal`, async () => {
      const rows = await rowsLike(pattern);
      return rows.length >= atLeast && rows.every((r) => ['processed', 'quarantined', 'failed', 'duplicate'].includes(r.status)) && !rows.some((r) => r.stored_path.startsWith('processing/')) && rows;
    }, 60000);
  /** The invariant: a processed row loaded every data line of the file it names. */
  const expectNothingMissing = (rows: Row[]) => {
    for (const r of rows.filter((x) => x.status === 'processed')) {
      const bytes = readFileSync(join(stack.dropzone, r.stored_path), 'utf8');
      expect({ id: r.id, sha256: r.sha256.trim(), rows: Number(r.rows_total) }).toEqual({ id: r.id, sha256: sha(bytes), rows: bytes.split('\n').filter(Boolean).length - 1 });
    }
  };

  it('a writer that keeps its file open and appends a line every 0.5 s is loaded whole, once it closes the file', async () => {
    const path = join(stack.dropzone, 'incoming', 'slow-fd.csv');
    const lines = wideCsv({ lines: 10, devices: ['slow-fd'], startEpoch: 1.76e9 }).split('\n').filter(Boolean);
    // Another process, as a real writer would be: one descriptor, a flushed line every 500 ms.
    const writer = spawn(
      process.execPath,
      ['-e', `const fs=require('fs');const fd=fs.openSync(process.argv[1],'a');const ls=JSON.parse(process.argv[2]);let i=0;const t=setInterval(()=>{fs.writeSync(fd,ls[i++]+'\\n');fs.fsyncSync(fd);if(i===ls.length){clearInterval(t);fs.closeSync(fd);}},500);`, path, JSON.stringify(lines)],
      { stdio: 'inherit' },
    );
    const exited = new Promise<number | null>((resolve) => writer.once('exit', resolve));
    expect(await exited).toBe(0);
    const rows = await terminal('slow-fd%', 1);
    const full = lines.join('\n') + '\n';
    expect(rows.map((r) => ({ status: r.status, sha256: r.sha256.trim(), rows: Number(r.rows_total) }))).toEqual([{ status: 'processed', sha256: sha(full), rows: 10 }]);
    expectNothingMissing(rows);
    const [{ rows_written }] = await stack.query<{ rows_written: string }>(`SELECT rows_written FROM ingest_files WHERE id = $1`, [rows[0].id]);
    expect(Number(rows_written)).toBeGreaterThan(0);
    expect(await stack.query(`SELECT count(*)::int AS n FROM raw_sensor_data WHERE file_id = $1`, [rows[0].id])).toEqual([{ n: Number(rows_written) }]);
  });

  it('a writer that reopens the file for each append is split into files, each loaded or quarantined whole: no line is lost unseen', async () => {
    const path = join(stack.dropzone, 'incoming', 'slow-reopen.csv');
    const lines = wideCsv({ lines: 6, devices: ['slow-reopen'], startEpoch: 1.77e9 }).split('\n').filter(Boolean);
    for (const line of lines) {
      appendFileSync(path, line + '\n');
      await sleep(500);
    }
    await waitFor('incoming/ empty of it', async () => !existsSync(path), 30000);
    const storedLines = (rows: Row[]) => rows.flatMap((r) => readFileSync(join(stack.dropzone, r.stored_path), 'utf8').split('\n').filter(Boolean));
    const rows = await waitFor('every line recorded', async () => {
      const now = await terminal('slow-reopen%', 1);
      return storedLines(now).length >= lines.length && now;
    }, 60000);
    expectNothingMissing(rows);
    // Every line written is in exactly one stored file, whose ledger row says what became of it.
    expect(storedLines(rows).sort()).toEqual([...lines].sort());
    for (const r of rows.filter((x) => x.status === 'quarantined')) expect(r.error?.rule).toBeTruthy();
  });
});
