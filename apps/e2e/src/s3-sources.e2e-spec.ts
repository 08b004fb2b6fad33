import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateMismatches, generateLongFormat, S3TestServer, Stack, waitFor, WORKSPACE_ROOT } from '@sluice/testing';

/** `sluice …` as a process, on the stack's database; resolves with its stdout. */
function sluice(stack: Stack, args: string[], extra: Record<string, string> = {}): Promise<string> {
  const env = { PATH: process.env['PATH'], DATABASE_URL: stack.db.url, NATS_URL: stack.natsUrl, NATS_NAMESPACE: stack.namespace, DROPZONE_DIR: stack.dropzone, ...extra };
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [join(WORKSPACE_ROOT, 'apps/cli/bin/sluice.js'), ...args], { cwd: WORKSPACE_ROOT, env }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

/**
 * The seed's object-store layout in a bucket of a real S3-protocol server, listed by the watcher and streamed
 * by the processor, next to sources that cannot be read (a missing bucket, refused credentials).
 */
describe('S3 source: the seed-004 layout in a bucket', () => {
  let s3: S3TestServer;
  let stack: Stack;
  let data: string;
  let generated: { rows: number; badRows: number };

  const generation = async () => Number((await stack.query<{ g: number }>(`SELECT generation AS g FROM s3_source_checkpoints WHERE source = 'seed'`))[0]?.g ?? 0);

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    data = mkdtempSync(join(tmpdir(), 'sluice-s3-e2e-'));
    generated = generateLongFormat(data, { sensors: 50, rows: 200000, files: 20, bad: 10 });
    await s3.createBucket('seed-004');
    await s3.createBucket('elsewhere');
    await s3.createBucket('landing');
    await s3.uploadTree('seed-004', data, ['mapping/mapping.csv']);
    const sources = [
      s3.source('seed-004', { name: 'seed' }),
      // Empty until the after-load tests put objects in.
      s3.source('landing', { name: 'moving', prefix: 'in/', afterLoad: 'move', moveTo: 'loaded/', quarantineTo: 'rejected/' }),
      s3.source('landing', { name: 'deleting', prefix: 'once/', afterLoad: 'delete' }),
      s3.source('no-such-bucket', { name: 'missing' }),
      { ...s3.source('elsewhere', { name: 'wrong-keys' }), accessKey: 'nobody', secretKey: 'nothing' },
    ];
    stack = await Stack.start({ label: 's3src', env: { S3_SOURCES: JSON.stringify(sources), S3_LIST_INTERVAL_MS: '1000' } });
  });

  afterAll(async () => {
    await stack?.stop();
    await s3?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('loads every good reading of the bucket with sensor names, and matches the generator summary', async () => {
    expect(generated).toMatchObject({ rows: 200000, badRows: 10 });
    const statuses = await stack.waitForTerminal(21, 240000);
    expect(statuses).toEqual({ processed: 21 });
    expect(await stack.count('raw_sensor_data')).toBe(generated.rows - generated.badRows);
    expect(await stack.count('ingest_errors')).toBe(generated.badRows);
    const named = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM sensors WHERE name LIKE 'sensor\\_%'`);
    expect(Number(named[0].n)).toBe(50);
    expect(await stack.count('sensors')).toBe(50);
    expect(await aggregateMismatches(stack)).toEqual([]);
  });

  it('shows the source and the object key in the ledger and /files', async () => {
    const res = await fetch(`${stack.url('query-api')}/files?limit=100`, { headers: { 'x-api-key': stack.queryKey } });
    const { files } = (await res.json()) as { files: Array<{ source: string; original_name: string; stored_path: string }> };
    expect(files).toHaveLength(21);
    expect(new Set(files.map((f) => f.source))).toEqual(new Set(['s3']));
    expect(files.map((f) => f.original_name)).toContain('s3://seed-004/mapping/mapping.csv');
    expect(files.every((f) => f.stored_path.startsWith('s3/seed/seed-004/'))).toBe(true);
  });

  it('sluice status shows each source, its bucket and the objects claimed', async () => {
    const report = JSON.parse(await sluice(stack, ['status', '--json'])) as { sources: Array<{ source: string; bucket: string; objectsClaimed: number; passes: number }> };
    const seed = report.sources.find((s) => s.source === 'seed');
    expect(seed).toEqual(expect.objectContaining({ source: 'seed', bucket: 'seed-004', objectsClaimed: 21 }));
    expect(seed?.passes).toBeGreaterThanOrEqual(1);
    expect(report.sources.find((s) => s.source === 'moving')).toEqual(expect.objectContaining({ bucket: 'landing', objectsClaimed: 0 }));
    expect(await sluice(stack, ['status'])).toMatch(/Object-store sources[\s\S]*seed[\s\S]*seed-004/);
  });

  it('adds nothing on later listings', async () => {
    const after = (await generation()) + 2;
    await waitFor('two more listing passes', async () => (await generation()) >= after, 60000);
    expect(await stack.count('ingest_files')).toBe(21);
  });

  it('loads an object overwritten with new content as a new version', async () => {
    const uuid = readFileSync(join(data, 'mapping', 'mapping.csv'), 'utf8').split('\n')[1].split(';')[0];
    await s3.put('seed-004', 'timeseries/part-0003.csv', `;timestamp;sensor_uuid;sensor_value\n0;2030-01-01 00:00:00+00:00;${uuid};1.25\n1;2030-01-01 00:01:00+00:00;${uuid};1.5\n`);
    expect(await stack.waitForTerminal(22)).toEqual({ processed: 22 });
    expect(await stack.count('raw_sensor_data')).toBe(generated.rows - generated.badRows + 2);
    const versions = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM s3_objects WHERE key = 'timeseries/part-0003.csv'`);
    expect(Number(versions[0].n)).toBe(2);
  });

  it('reports a missing bucket and refused credentials in /health/ready and /metrics while the watcher stays ready', async () => {
    const res = await fetch(`${stack.url('watcher')}/health/ready`);
    expect(res.status).toBe(200);
    const body = JSON.stringify(await res.json());
    expect(body).toMatch(/source \\"missing\\" \(bucket \\"no-such-bucket\\" at http:\/\/127\.0\.0\.1:\d+\): the bucket does not exist/);
    expect(body).toMatch(/source \\"wrong-keys\\" .*the credentials were refused \(InvalidAccessKeyId\)/);
    const metrics = await (await fetch(`${stack.url('watcher')}/metrics`)).text();
    expect(metrics).toMatch(/sluice_s3_source_up\{source="seed"[^}]*\} 1/);
    expect(metrics).toMatch(/sluice_s3_source_up\{source="missing"[^}]*\} 0/);
    expect(metrics).toMatch(/sluice_s3_source_up\{source="wrong-keys"[^}]*\} 0/);
    // One line per problem, however many listings failed.
    const log = readFileSync(join(stack.logDir, 'watcher-0.log'), 'utf8');
    expect(log.split('\n').filter((l) => l.includes('the bucket does not exist'))).toHaveLength(1);
  });

  it('shows object keys on the dashboard (its /trace)', async () => {
    const res = await fetch(`${stack.url('query-api')}/trace`, { headers: { 'x-api-key': stack.queryKey } });
    const trace = (await res.json()) as { finished: Array<{ original_name: string; status: string }> };
    expect(trace.finished.length).toBeGreaterThan(0);
    expect(trace.finished.every((f) => f.original_name.startsWith('s3://seed-004/'))).toBe(true);
  });

  it('records the same bytes under another key as a duplicate, keeps both objects, and writes a quarantined object’s report beside it', async () => {
    const mapping = readFileSync(join(data, 'mapping', 'mapping.csv'));
    await s3.put('seed-004', 'copies/mapping.csv', mapping);
    await s3.put('seed-004', 'timeseries/broken.csv', Buffer.from([0, 159, 146, 150, 0, 1, 2, 3]));
    expect(await stack.waitForTerminal(24)).toEqual({ processed: 22, duplicate: 1, quarantined: 1 });
    const rows = await stack.query<{ original_name: string; status: string; duplicate_of: string | null; original: string }>(
      `SELECT f.original_name, f.status, f.duplicate_of, o.original_name AS original FROM ingest_files f LEFT JOIN ingest_files o ON o.id = f.duplicate_of
        WHERE f.original_name IN ('s3://seed-004/copies/mapping.csv', 's3://seed-004/timeseries/broken.csv') ORDER BY f.original_name`,
    );
    expect(rows.map((r) => [r.original_name, r.status, r.original])).toEqual([
      ['s3://seed-004/copies/mapping.csv', 'duplicate', 's3://seed-004/mapping/mapping.csv'],
      ['s3://seed-004/timeseries/broken.csv', 'quarantined', null],
    ]);
    await waitFor('the error report beside the quarantined object', async () => (await s3.keys('seed-004')).includes('timeseries/broken.csv.error.json'), 60000);
    const [{ rule }] = await stack.query<{ rule: string }>(`SELECT error->>'rule' AS rule FROM ingest_files WHERE original_name = 's3://seed-004/timeseries/broken.csv'`);
    expect(JSON.parse(await s3.text('seed-004', 'timeseries/broken.csv.error.json'))).toMatchObject({ originalName: 's3://seed-004/timeseries/broken.csv', status: 'quarantined', error: { rule } });
    expect(await s3.keys('seed-004')).toEqual(expect.arrayContaining(['mapping/mapping.csv', 'copies/mapping.csv', 'timeseries/broken.csv']));
    // Neither the report nor anything else is claimed again.
    const after = (await generation()) + 1;
    await waitFor('one more listing pass', async () => (await generation()) >= after, 60000);
    expect(await stack.count('ingest_files')).toBe(24);
  });

  it('moves loaded objects under moveTo and quarantined ones with their report under quarantineTo, or deletes them, per source', async () => {
    const uuid = readFileSync(join(data, 'mapping', 'mapping.csv'), 'utf8').split('\n')[1].split(';')[0];
    await s3.put('landing', 'in/readings.csv', `;timestamp;sensor_uuid;sensor_value\n0;2031-01-01 00:00:00+00:00;${uuid};2.5\n`);
    await s3.put('landing', 'in/empty.csv', '');
    await s3.put('landing', 'once/readings.csv', `;timestamp;sensor_uuid;sensor_value\n0;2031-01-02 00:00:00+00:00;${uuid};3.5\n`);
    expect(await stack.waitForTerminal(27)).toEqual({ processed: 24, duplicate: 1, quarantined: 2 });
    const settled = async () => Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM s3_objects WHERE source IN ('moving', 'deleting') AND settled_at IS NOT NULL`))[0].n);
    await waitFor('the three objects settled', async () => (await settled()) === 3, 60000);
    expect((await s3.keys('landing')).sort()).toEqual(['loaded/in/readings.csv', 'rejected/in/empty.csv', 'rejected/in/empty.csv.error.json']);
    expect(JSON.parse(await s3.text('landing', 'rejected/in/empty.csv.error.json'))).toMatchObject({ originalName: 's3://landing/in/empty.csv', error: { rule: 'empty_file' } });
    const [moved] = await stack.query<{ stored_path: string }>(`SELECT stored_path FROM ingest_files WHERE original_name = 's3://landing/in/readings.csv'`);
    expect(moved.stored_path).toMatch(/^s3\/moving\/landing\/[0-9a-f]+\/loaded\/in\/readings\.csv$/);
    expect(await stack.count('raw_sensor_data')).toBe(generated.rows - generated.badRows + 4);
  });
});

describe('sluice backfill s3://bucket/prefix', () => {
  let s3: S3TestServer;
  let stack: Stack;
  let data: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    data = mkdtempSync(join(tmpdir(), 'sluice-s3-backfill-'));
    generateLongFormat(data, { sensors: 5, rows: 3000, files: 4, bad: 0 });
    await s3.createBucket('archive');
    await s3.uploadTree('archive', join(data), ['mapping/mapping.csv']);
    await s3.put('archive', 'elsewhere/ignored.csv', 'not under the prefix\n');
    env = { S3_SOURCES: JSON.stringify([s3.source('archive')]) };
    // No watcher: the CLI claims the objects itself.
    stack = await Stack.start({ label: 's3backfill', services: ['processor'], env });
  });

  afterAll(async () => {
    await stack?.stop();
    await s3?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('claims, loads and summarises the objects under the prefix, and enqueues nothing the second time', async () => {
    await s3.put('archive', 'timeseries/mapping.csv', readFileSync(join(data, 'mapping', 'mapping.csv')));
    const out = await sluice(stack, ['backfill', 's3://archive/timeseries/'], env);
    expect(out).toMatch(/processed/);
    expect(await stack.count('raw_sensor_data')).toBe(3000);
    expect(await stack.count('sensors')).toBe(5);
    const names = await stack.query<{ original_name: string }>('SELECT original_name FROM ingest_files ORDER BY created_at');
    expect(names[0].original_name).toBe('s3://archive/timeseries/mapping.csv');
    expect(names.map((n) => n.original_name).every((n) => n.startsWith('s3://archive/timeseries/'))).toBe(true);
    expect(names).toHaveLength(5);
    expect(await sluice(stack, ['backfill', 's3://archive/timeseries/'], env)).toMatch(/no new objects to load under s3:\/\/archive\/timeseries\//);
    expect(await stack.count('ingest_files')).toBe(5);
  });

  it('names the missing source of a bucket', async () => {
    await expect(sluice(stack, ['backfill', 's3://unknown-bucket/'], env)).rejects.toThrow(/no source in S3_SOURCES \(or MINIO_\*\) reads bucket "unknown-bucket"/);
  });
});

describe('S3_SOURCES at boot', () => {
  it('stops the watcher and the processor with one line naming the entry at fault, never a stack trace', async () => {
    const dropzone = mkdtempSync(join(tmpdir(), 'sluice-s3-boot-'));
    try {
      for (const service of ['watcher', 'processor']) {
        const env = {
          PATH: process.env['PATH'],
          DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/sluice_never_used',
          NATS_URL: 'nats://127.0.0.1:4222',
          DROPZONE_DIR: dropzone,
          S3_SOURCES: JSON.stringify([{ bucket: 'fine-bucket' }, { bucket: 'Not_A_Bucket' }]),
        };
        const proc = spawn(process.execPath, [join(WORKSPACE_ROOT, 'dist/apps', service, 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
        proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
        const [code] = (await once(proc, 'exit')) as [number | null];
        expect(code).toBe(1);
        expect(output).toMatch(/S3_SOURCES\[1\]: bucket must be an S3 bucket name/);
        expect(output).not.toMatch(/\n\s+at /);
      }
    } finally {
      rmSync(dropzone, { recursive: true, force: true });
    }
  });
});
