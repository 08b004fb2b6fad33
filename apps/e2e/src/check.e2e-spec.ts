import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckReport } from '@sluice/loading';
import { createTestDatabase, S3TestServer, WORKSPACE_ROOT, type TestDatabase } from '@sluice/testing';
import { Client } from 'pg';
import { sluice } from './support/sluice-cli';

const EXAMPLES = join(WORKSPACE_ROOT, 'examples/contracts');
const WEATHER = 'weather_2024-03-31.csv';
/** A JSON document of no known shape, which no contract takes. */
const UNKNOWN = '{"foo": 1}';

// The CLI as a process against a database of its own (no services: a check needs none), and a real S3 server.
describe('sluice check (writes nothing; s3:// through S3_SOURCES)', () => {
  let db: TestDatabase;
  let drop: string;
  let env: Record<string, string>;

  async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const r = await sluice(['check', ...args], env);
    return { code: r.code, out: r.stdout, err: r.stderr };
  }
  const reports = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as CheckReport);

  /** What a check could change: every table's counters, the ledger, and every file of the drop folder (name, size, mtime). */
  async function snapshot(): Promise<unknown> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('SELECT pg_stat_force_next_flush()');
      await c.query('SELECT pg_stat_clear_snapshot()');
      const stats = (await c.query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relid`)).rows;
      const ledger = (await c.query(`SELECT * FROM ingest_files ORDER BY id`)).rows;
      const files = readdirSync(drop, { recursive: true })
        .map(String)
        .sort()
        .map((f) => {
          const s = statSync(join(drop, f));
          return [f, s.size, s.mtimeMs];
        });
      return { stats, ledger, files };
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase('cli_check');
    drop = mkdtempSync(join(tmpdir(), 'sluice-cli-check-'));
    mkdirSync(join(drop, 'incoming'));
    copyFileSync(join(EXAMPLES, WEATHER), join(drop, 'incoming', WEATHER));
    env = { DATABASE_URL: db.url, DROPZONE_DIR: drop, CONTRACTS_DIR: EXAMPLES };
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(drop, { recursive: true, force: true });
  });

  it('exits 0 for a file that would load, and changes no table, ledger row or file of the drop folder', async () => {
    const before = await snapshot();
    const r = await run(join(drop, 'incoming', WEATHER));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(new RegExp(`^${join(drop, 'incoming', WEATHER)}: LOAD\n  kind: contract \\(contract weather, version [0-9a-f]{12}\\)\n  rows: \\d+ total, \\d+ would load, 0 duplicate\n`));
    expect(await snapshot()).toEqual(before);
  });

  it('--json: one report per line; exit 1 when a file would be quarantined', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sluice-cli-check-folder-'));
    try {
      copyFileSync(join(EXAMPLES, WEATHER), join(folder, WEATHER));
      writeFileSync(join(folder, 'export.json'), UNKNOWN);
      const r = await run(folder, '--json');
      expect(r.code).toBe(1);
      const [unknown, weather] = reports(r.out);
      expect(Object.keys(weather).sort()).toEqual(
        ['contract', 'contract_version', 'drift', 'duplicate_rows', 'file', 'kind', 'reason', 'rejected', 'rows_total', 'samples', 'sha256', 'verdict', 'would_load'].sort(),
      );
      expect(weather).toMatchObject({ file: join(folder, WEATHER), kind: 'contract', contract: 'weather', verdict: 'load', duplicate_rows: 0, rejected: { out_of_range: 1 } });
      expect(weather.would_load).toBe((weather.rows_total as number) - 1);
      expect(unknown).toMatchObject({ file: join(folder, 'export.json'), kind: null, verdict: 'quarantine', reason: expect.stringMatching(/^unrecognized_format: /) });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses another URL scheme as a usage error', async () => {
    const r = await run('https://example.com/a.csv');
    expect(r.code).toBe(2);
    expect(r.err).toContain('s3://bucket/prefix');
  });

  describe('s3://bucket/prefix', () => {
    let s3: S3TestServer;
    const BUCKET = 'check-exports';

    beforeAll(async () => {
      s3 = await S3TestServer.start();
      await s3.createBucket(BUCKET);
      await s3.put(BUCKET, `site-a/${WEATHER}`, readFileSync(join(EXAMPLES, WEATHER)));
      await s3.put(BUCKET, 'site-a/export.json', UNKNOWN);
      await s3.put(BUCKET, 'elsewhere/other.json', UNKNOWN);
      env = { ...env, S3_SOURCES: JSON.stringify([s3.source(BUCKET)]) };
    });
    afterAll(async () => {
      await s3?.stop();
    });

    it('checks every object under the prefix through the S3_SOURCES source of its bucket, and changes nothing', async () => {
      const before = await snapshot();
      const keysBefore = await s3.keys(BUCKET);
      const r = await run(`s3://${BUCKET}/site-a/`, '--json');
      expect(r.code).toBe(1);
      const [unknown, weather] = reports(r.out);
      expect(reports(r.out)).toHaveLength(2);
      expect(weather).toMatchObject({ file: `s3://${BUCKET}/site-a/${WEATHER}`, contract: 'weather', verdict: 'load', rejected: { out_of_range: 1 } });
      expect(unknown).toMatchObject({ file: `s3://${BUCKET}/site-a/export.json`, verdict: 'quarantine' });
      expect(await snapshot()).toEqual(before);
      expect(await s3.keys(BUCKET)).toEqual(keysBefore);
    });

    it('names S3_SOURCES when no source reads the bucket (exit 2)', async () => {
      const r = await run('s3://no-such-source-bucket/x/');
      expect(r.code).toBe(2);
      expect(r.err).toContain('S3_SOURCES');
    });
  });
});
