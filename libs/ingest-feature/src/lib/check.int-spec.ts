import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { CheckReport } from '@sluice/loading';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { INGEST_KEY, startIngestApi, stopIngestApi } from '../../test/ingest-api-harness';

jest.setTimeout(60000);

const EXAMPLES = join(__dirname, '../../../../examples/contracts');
const WEATHER = readFileSync(join(EXAMPLES, 'weather_2024-03-31.csv'));
/** The harness's MAX_UPLOAD_BYTES. */
const MAX_UPLOAD = 1024 * 1024;

describe('POST /check (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let dir: string;
  let app: INestApplication;
  let base: string;

  const post = (query: string, body: RequestInit['body'], headers: Record<string, string> = { 'x-api-key': INGEST_KEY }) => fetch(`${base}/check${query}`, { method: 'POST', body, headers });

  /** What a check could change: every table's counters, the ledger, and every file under the drop folder. */
  async function snapshot(): Promise<unknown> {
    const ds = app.get(DataSource);
    await ds.query('SELECT pg_stat_force_next_flush()');
    await ds.query('SELECT pg_stat_clear_snapshot()');
    return {
      stats: await ds.query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relid`),
      ledger: await ds.query(`SELECT * FROM ingest_files ORDER BY id`),
      files: readdirSync(dir, { recursive: true }).map(String).sort(),
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase('ingestcheck');
    dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-check-'));
    // The harness's CONTRACTS_DIR.
    mkdirSync(`${dir}-contracts`);
    copyFileSync(join(EXAMPLES, 'weather.yaml'), join(`${dir}-contracts`, 'weather.yaml'));
    ({ app, base } = await startIngestApi(db, dir));
  });
  afterAll(async () => {
    await stopIngestApi(app);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-contracts`, { recursive: true, force: true });
  });

  it('reports a raw upload a contract takes, and writes nothing: no ledger row, no file, no table insert', async () => {
    const before = await snapshot();
    const res = await post('?filename=weather_2024-03-31.csv', WEATHER, { 'x-api-key': INGEST_KEY, 'content-type': 'text/csv' });
    expect(res.status).toBe(200);
    const report = (await res.json()) as CheckReport;
    expect(report).toMatchObject({ file: 'weather_2024-03-31.csv', kind: 'contract', contract: 'weather', verdict: 'load', reason: null, duplicate_rows: 0, rejected: { out_of_range: 1 } });
    expect(report.rows_total).toBe(WEATHER.toString('latin1').trim().split('\n').length - 1);
    expect(report.would_load).toBe((report.rows_total as number) - 1);
    expect(report.samples).toEqual([expect.objectContaining({ rule: 'out_of_range' })]);
    expect(await snapshot()).toEqual(before);
  });

  it('reads the multipart form as POST /ingest/files does', async () => {
    const form = new FormData();
    form.append('file', new Blob([WEATHER]), 'weather_2024-03-31.csv');
    const res = await post('', form);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ contract: 'weather', verdict: 'load' });
  });

  it('quarantines a file nothing takes, saying why', async () => {
    const res = await post('?filename=export.json', '{"foo": 1}');
    expect(res.status).toBe(200);
    const report = (await res.json()) as CheckReport;
    expect(report).toMatchObject({ kind: null, contract: null, verdict: 'quarantine' });
    expect(report.reason).toMatch(/^unrecognized_format: /);
  });

  it('refuses a body over MAX_UPLOAD_BYTES (413), declared or streamed', async () => {
    const big = Buffer.alloc(MAX_UPLOAD + 1, 'a');
    const declared = await post('?filename=big.csv', big);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const chunked = await fetch(`${base}/check?filename=big.csv`, { method: 'POST', headers: { 'x-api-key': INGEST_KEY }, body: new Blob([big]).stream(), duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('needs an API key (401)', async () => {
    expect((await post('?filename=weather_2024-03-31.csv', WEATHER, {})).status).toBe(401);
  });

  it('is in the OpenAPI document with its report', async () => {
    const doc = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
    expect(doc.paths['/check']?.post?.responses).toHaveProperty('200');
  });
});
