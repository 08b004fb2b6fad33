import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, waitFor, wideCsv } from '@sluice/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the drop folder reads only complete, regular files', () => {
  let stack: Stack;
  let outside: string;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'dropfolder', env: { STABILITY_WINDOW_MS: '500' } });
    outside = mkdtempSync(join(tmpdir(), 'sluice-outside-'));
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(outside, { recursive: true, force: true });
  });

  it('ignores .part, .tmp, .crdownload and dotfiles, and never follows a symlink', async () => {
    const incoming = join(stack.dropzone, 'incoming');
    const text = wideCsv({ lines: 10, devices: ['p'], startEpoch: 1.7e9 });
    for (const name of ['a.csv.part', 'b.csv.tmp', 'c.csv.crdownload', '.hidden.csv']) writeFileSync(join(incoming, name), text);
    const target = join(outside, 'secret.csv');
    writeFileSync(target, wideCsv({ lines: 10, devices: ['secret'], startEpoch: 1.7e9 }));
    symlinkSync(target, join(incoming, 'link.csv'));

    // A control file proves the watcher is looking.
    writeFileSync(join(outside, 'control.csv'), wideCsv({ lines: 10, devices: ['control'], startEpoch: 1.7e9 }));
    renameSync(join(outside, 'control.csv'), join(incoming, 'control.csv'));
    await stack.waitForTerminal(1);
    await sleep(2500); // two rescans

    const names = await stack.query<{ original_name: string }>('SELECT original_name FROM ingest_files');
    expect(names.map((n) => n.original_name)).toEqual(['control.csv']);
    const sensors = await stack.query<{ name: string }>(`SELECT name FROM sensors WHERE name LIKE 'secret/%'`);
    expect(sensors).toEqual([]);
    expect(readFileSync(target, 'utf8')).toContain('secret');
    for (const name of ['a.csv.part', 'b.csv.tmp', 'c.csv.crdownload', '.hidden.csv']) expect(readdirSync(incoming)).toContain(name);
  });

  it('reads a file that is still being written only once it is complete', async () => {
    const path = join(stack.dropzone, 'incoming', 'growing.csv');
    const lines = wideCsv({ lines: 300, devices: ['g'], startEpoch: 1.75e9 }).split('\n');
    writeFileSync(path, lines.slice(0, 2).join('\n') + '\n');
    // Append every 100 ms for ~3 s.
    for (let i = 2; i < lines.length; i += 10) {
      await sleep(100);
      const chunk = lines.slice(i, i + 10).filter(Boolean);
      if (chunk.length) appendFileSync(path, chunk.join('\n') + '\n');
    }
    const full = lines.filter(Boolean).join('\n') + '\n';
    await waitFor('growing.csv terminal', async () => {
      const rows = await stack.query<{ status: string }>(`SELECT status FROM ingest_files WHERE original_name = 'growing.csv'`);
      return rows[0] && ['processed', 'quarantined', 'failed'].includes(rows[0].status);
    }, 60000);
    const [row] = await stack.query<{ status: string; sha256: string; rows_total: string }>(`SELECT status, sha256, rows_total FROM ingest_files WHERE original_name = 'growing.csv'`);
    expect(row.status).toBe('processed');
    expect(row.sha256).toBe(createHash('sha256').update(full).digest('hex'));
    expect(Number(row.rows_total)).toBe(300);
  });
});
