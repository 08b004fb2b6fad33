import { Stack, waitFor, wideCsv } from '@sluice/testing';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 1024 * 1024;
/** The floor the services run with; the tmpfs is 32 MiB. */
const MIN_FREE_DISK = 8 * MiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 32 MiB tmpfs when this user may mount one; otherwise a plain folder, and the test says so. */
function makeDropFolder(): { dir: string; tmpfs: boolean; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-disklow-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0755', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir, tmpfs: true, dispose: () => (execFileSync('umount', ['-l', dir], { stdio: 'ignore' }), rmSync(dir, { recursive: true, force: true })) };
  } catch {
    return { dir, tmpfs: false, dispose: () => rmSync(dir, { recursive: true, force: true }) };
  }
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Grows the filler until `leave` bytes are free on the drop folder's file system. */
function fillUntil(dir: string, leave: number): void {
  const fd = openSync(join(dir, '.filler'), 'a');
  try {
    const chunk = Buffer.alloc(MiB, 1);
    for (let more = freeBytes(dir) - leave; more > 0; more = freeBytes(dir) - leave) writeSync(fd, chunk, 0, Math.min(MiB, more));
  } finally {
    closeSync(fd);
  }
}

/** A CSV renamed into incoming/ as a finished file is (claimed at once unless the watcher pauses). */
function dropCsv(stack: Stack, name: string, body: string): void {
  const tmp = join(stack.dropzone, 'incoming', `.${name}`);
  writeFileSync(tmp, body);
  renameSync(tmp, join(stack.dropzone, 'incoming', name));
}

interface Ready {
  status: string;
  info?: Record<string, { status: string; degraded?: boolean; message?: string }>;
}

async function readiness(stack: Stack, name: 'watcher' | 'ingest-api'): Promise<{ code: number; body: Ready }> {
  const res = await fetch(`${stack.url(name)}/health/ready`);
  return { code: res.status, body: (await res.json()) as Ready };
}

/** The value of a gauge with `app="<app>"` in a service's /metrics. */
async function gauge(stack: Stack, name: 'watcher' | 'ingest-api', metric: string): Promise<number | null> {
  const text = await (await fetch(`${stack.url(name)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(`app="${name}"`));
  return line ? Number(line.split(' ').at(-1)) : null;
}

/** A measurement document; `samples` numbers make it large (over INGEST_INLINE_MAX_BYTES from about 14,000). */
const measurement = (at: string, samples: number) => Buffer.from(JSON.stringify({ time_stamp: at, data: Array.from({ length: samples }, (_, i) => 1 + (i % 1000) / 1000 + i / 1e9) }));

describe('a drop folder whose disk fills', () => {
  const drop = makeDropFolder();
  let stack: Stack;
  let ingest: string;
  const headers = (type: string) => ({ 'x-api-key': stack.ingestKey, 'content-type': type });

  beforeAll(async () => {
    // Without a tmpfs the disk cannot be filled: the floor is then set above the real free space, and "space
    // coming back" is the services restarted with a floor of 0.
    const floor = drop.tmpfs ? String(MIN_FREE_DISK) : String(freeBytes(drop.dir) + 1024 * MiB);
    process.stdout.write(`disk-low e2e: ${drop.tmpfs ? 'on a 32 MiB tmpfs, filled for real' : 'no tmpfs here (mount refused): MIN_FREE_DISK set above the free space'}\n`);
    stack = await Stack.start({ label: 'disklow', services: ['watcher', 'processor', 'ingest-api'], dropzone: drop.dir, env: { MIN_FREE_DISK: floor, LOG_LEVEL: 'info' } });
    ingest = stack.url('ingest-api');
  });
  afterAll(async () => {
    await stack?.stop();
    drop.dispose();
  });

  it('answers an upload that fills the disk mid-write with 503 disk_low, leaving nothing registered or half-written', async () => {
    if (!drop.tmpfs) return void expect(drop.tmpfs).toBe(false); // only a real small file system fills mid-write
    fillUntil(drop.dir, 12 * MiB); // above the floor: the upload is let through, and cannot fit
    const res = await fetch(`${ingest}/ingest/files?filename=too-big.csv`, { method: 'POST', body: Buffer.alloc(16 * MiB, 0x61), headers: headers('text/csv') });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('disk_low');
    expect(body.error.message).toContain('ENOSPC');
    expect(await stack.query(`SELECT id FROM ingest_files WHERE original_name = 'too-big.csv'`)).toEqual([]);
    // The partial file went with the refusal: processing/ holds nothing, and the space is back.
    expect(readdirSync(join(drop.dir, 'processing'))).toEqual([]);
    expect(freeBytes(drop.dir)).toBeGreaterThan(11 * MiB);
  });

  it('pauses claims and drop-folder bodies below MIN_FREE_DISK, keeps taking small bodies, and loads everything once when space is back', async () => {
    if (drop.tmpfs) fillUntil(drop.dir, 4 * MiB);
    // Both services see it within one check (5 s) and report it: degraded, still ready (200), and the gauges.
    for (const name of ['watcher', 'ingest-api'] as const) {
      const ready = await waitFor(`${name} reports the disk low`, async () => {
        const r = await readiness(stack, name);
        return r.body.info?.['disk']?.degraded ? r : null;
      });
      expect(ready.code).toBe(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.info?.['disk']?.message).toMatch(/^drop folder has [\d.]+ (bytes|KiB|MiB|GiB|TiB) free, below MIN_FREE_DISK [\d.]+ (MiB|GiB|TiB)$/);
      expect(await gauge(stack, name, 'sluice_disk_low')).toBe(1);
      expect(await gauge(stack, name, 'sluice_disk_free_bytes')).toBeGreaterThan(0);
    }

    // Files arriving meanwhile stay in incoming/.
    const files = ['a', 'b', 'c'].map((x, i) => ({ name: `disk-${x}.csv`, body: wideCsv({ lines: 60, devices: [`disk_dev_${x}`], startEpoch: 1_700_000_000 + i * 1000 }) }));
    for (const f of files) dropCsv(stack, f.name, f.body);

    // The ingest-api refuses what it would write to the drop folder, unread, and says when to come back.
    const upload = await fetch(`${ingest}/ingest/files?filename=disk-upload.csv`, {
      method: 'POST',
      body: wideCsv({ lines: 40, devices: ['disk_dev_up'], startEpoch: 1_700_100_000 }),
      headers: { ...headers('text/csv'), 'idempotency-key': 'disk-upload' },
    });
    expect(upload.status).toBe(503);
    expect(upload.headers.get('retry-after')).toBe('30');
    const refusal = (await upload.json()) as { error: { code: string; message: string; details: { min_free_bytes: number; retry_after_seconds: number } } };
    expect(refusal.error.code).toBe('disk_low');
    expect(refusal.error.message).toContain('MIN_FREE_DISK');
    expect(refusal.error.details).toMatchObject({ retry_after_seconds: 30 });
    const large = measurement('2019-06-01T00:00:00Z', 20_000);
    expect(large.length).toBeGreaterThan(256 * 1024);
    const largeRes = await fetch(`${ingest}/ingest`, { method: 'POST', body: large, headers: { ...headers('application/json'), 'idempotency-key': 'disk-large' } });
    expect(largeRes.status).toBe(503);
    expect(((await largeRes.json()) as { error: { code: string } }).error.code).toBe('disk_low');

    // A small body is kept in PostgreSQL: still accepted.
    const small = await fetch(`${ingest}/ingest`, { method: 'POST', body: measurement('2019-06-02T00:00:00Z', 50), headers: headers('application/json') });
    expect(small.status).toBe(202);
    const { raw_id: smallId } = (await small.json()) as { raw_id: string };

    // Two rescans later (RESCAN_INTERVAL_MS 2000) the dropped files are still where they were, unregistered.
    await sleep(4500);
    expect(readdirSync(join(drop.dir, 'incoming')).sort()).toEqual(files.map((f) => f.name).sort());
    expect(await stack.query(`SELECT id FROM ingest_files WHERE original_name LIKE 'disk-%'`)).toEqual([]);
    expect(await gauge(stack, 'watcher', 'sluice_disk_low')).toBe(1);

    // Space comes back: the services resume on their own.
    if (drop.tmpfs) rmSync(join(drop.dir, '.filler'));
    else {
      stack.opts.env = { ...stack.opts.env, MIN_FREE_DISK: '0' };
      for (const name of ['watcher', 'ingest-api'] as const) {
        await stack.kill(name, 0, 'SIGTERM');
        await stack.restart(name);
      }
    }
    for (const name of ['watcher', 'ingest-api'] as const) {
      await waitFor(`${name} reports space back`, async () => !(await readiness(stack, name)).body.info?.['disk']?.degraded && (await gauge(stack, name, 'sluice_disk_low')) === 0);
    }
    // The clients retry what was refused (with the same Idempotency-Keys).
    const retried = await fetch(`${ingest}/ingest/files?filename=disk-upload.csv`, {
      method: 'POST',
      body: wideCsv({ lines: 40, devices: ['disk_dev_up'], startEpoch: 1_700_100_000 }),
      headers: { ...headers('text/csv'), 'idempotency-key': 'disk-upload' },
    });
    expect(retried.status).toBe(202);
    const largeAgain = await fetch(`${ingest}/ingest`, { method: 'POST', body: large, headers: { ...headers('application/json'), 'idempotency-key': 'disk-large' } });
    expect(largeAgain.status).toBe(202);
    const ids = [smallId, ((await retried.json()) as { raw_id: string }).raw_id, ((await largeAgain.json()) as { raw_id: string }).raw_id];

    // Every file and body loads exactly once.
    await waitFor(
      'the dropped files loaded',
      async () => (await stack.query(`SELECT 1 FROM ingest_files WHERE original_name LIKE 'disk-%.csv' AND source = 'dropzone' AND status = 'processed'`)).length === files.length,
      60000,
    );
    await waitFor('the bodies loaded', async () => (await stack.query(`SELECT 1 FROM ingest_files WHERE id = ANY($1) AND status = 'processed'`, [ids])).length === ids.length, 60000);
    const rows = await stack.query<{ original_name: string; n: string }>(`SELECT original_name, count(*) AS n FROM ingest_files WHERE original_name LIKE 'disk-%' GROUP BY 1 ORDER BY 1`);
    expect(rows).toEqual([...files.map((f) => f.name), 'disk-upload.csv'].sort().map((name) => ({ original_name: name, n: '1' })));
    expect(await stack.query(`SELECT count(*)::int AS n FROM ingest_files WHERE source = 'api'`)).toEqual([{ n: 3 }]);
    const readings = await stack.query<{ sensor: string; n: number }>(
      `SELECT split_part(s.name, '/', 1) AS sensor, count(*)::int AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE s.name LIKE 'disk_dev_%' GROUP BY 1 ORDER BY 1`,
    );
    // Seven metrics a line.
    expect(readings).toEqual([
      { sensor: 'disk_dev_a', n: 60 * 7 },
      { sensor: 'disk_dev_b', n: 60 * 7 },
      { sensor: 'disk_dev_c', n: 60 * 7 },
      { sensor: 'disk_dev_up', n: 40 * 7 },
    ]);
    expect(await stack.query(`SELECT sample_count FROM measurements WHERE timestamp_utc IN ('2019-06-01T00:00:00Z', '2019-06-02T00:00:00Z') ORDER BY timestamp_utc`)).toEqual([{ sample_count: 20_000 }, { sample_count: 50 }]);
    expect(readdirSync(join(drop.dir, 'incoming'))).toEqual([]);
  });
});
