// `npm run bench -- --only replay`: the seed scenario of the dashboard's acceptance (41 seed files, copies of
// some under other names, replays), its figures against SQL, and how long a replayed file stays in
// processing/ after its outcome is recorded.
import { existsSync, mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CHROMIUM, dashboardTruth, launchChromium, Stack, statsTruth, waitFor } from '@sluice/testing';
import { csvFilesOf, type SeedSet } from '../data/seed-set';

export interface ReplaySectionOptions {
  seeds: () => SeedSet;
  out: (line?: string) => void;
  pct: (xs: number[], p: number) => number;
  /** Replays to time (the first two are the scenario's). */
  replays?: number;
}

/** The watcher's documented default: a move that waited for a rescan would show as up to 30 s here. */
const RESCAN_INTERVAL_MS = '30000';

export async function replaySection({ seeds, out, pct, replays = 12 }: ReplaySectionOptions): Promise<void> {
  const set = seeds();
  const dir = set.dir;
  const files = csvFilesOf(set);
  out(`\n## 2c. Replays: ${files.length} seed files, copies, ${replays} replays; outcome recorded → file out of processing/ (rescan every ${RESCAN_INTERVAL_MS} ms)`);
  const stack = await Stack.start({
    label: 'benchreplay',
    services: ['watcher', 'processor', 'query-api', 'ingest-api'],
    env: { LOG_LEVEL: 'warn', RESCAN_INTERVAL_MS },
  });
  const browser = existsSync(CHROMIUM) ? await launchChromium() : null;
  try {
    const staging = join(stack.dropzone, '..', `${basename(stack.dropzone)}-staging`);
    mkdirSync(staging, { recursive: true });
    for (const f of files) writeFileSync(join(staging, f), readFileSync(join(dir, f)));
    for (const f of files) renameSync(join(staging, f), join(stack.dropzone, 'incoming', f));
    const loaded = await stack.waitForTerminal(files.length, 900000);
    const [seed] = await stack.query<{ readings: string; sensors: string; rejected: string }>(
      `SELECT (SELECT count(*) FROM raw_sensor_data)::text AS readings, (SELECT count(*) FROM sensors)::text AS sensors, (SELECT count(*) FROM ingest_errors)::text AS rejected`,
    );
    out(`seed load: ${JSON.stringify(loaded)}; ${Number(seed.readings).toLocaleString('en')} readings (${set.expected.readings.toLocaleString('en')} expected), ${seed.sensors} sensors (${set.expected.sensors}), ${seed.rejected} rejected lines (${set.expected.rejected})`);

    // Duplicates: the same bytes under other names.
    for (const f of files.slice(0, 2)) {
      writeFileSync(join(staging, `copy-of-${f}`), readFileSync(join(dir, f)));
      renameSync(join(staging, `copy-of-${f}`), join(stack.dropzone, 'incoming', `copy-of-${f}`));
    }
    await stack.waitForTerminal(files.length + 2, 120000);

    // Every change in processing/, timed as it happens: a replayed file's bytes arrive, then leave.
    const processing = join(stack.dropzone, 'processing');
    const leftAt = new Map<string, number>();
    const watcher = watch(processing, (_event, name) => {
      if (name && !existsSync(join(processing, name))) leftAt.set(name, Date.now());
    });
    const targets = await stack.query<{ id: string; original_name: string }>(
      `SELECT id::text AS id, original_name FROM ingest_files WHERE status = 'processed' ORDER BY original_name LIMIT $1`,
      [replays],
    );
    const lat: number[] = [];
    try {
      for (const t of targets) {
        const res = await fetch(`${stack.url('ingest-api')}/files/${t.id}/replay`, { method: 'POST', headers: { 'x-api-key': stack.ingestKey } });
        if (res.status !== 202) throw new Error(`replay of ${t.original_name}: HTTP ${res.status} ${await res.text()}`);
        const [{ stored_path }] = await stack.query<{ stored_path: string }>(`SELECT stored_path FROM ingest_files WHERE id = $1`, [t.id]);
        // Named by the file's id: no earlier event of this watch can carry the name.
        const name = basename(stored_path);
        const done = await waitFor(
          `${t.original_name} replayed and moved`,
          async () => {
            const [row] = await stack.query<{ status: string; finished_ms: number | null }>(
              `SELECT status, (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms FROM ingest_files WHERE id = $1`,
              [t.id],
            );
            return row.status === 'processed' && row.finished_ms !== null && leftAt.has(name) ? row.finished_ms : null;
          },
          120000,
          50,
        );
        lat.push((leftAt.get(name) as number) - done);
      }
    } finally {
      watcher.close();
    }
    const p95 = pct(lat, 95);
    out(`outcome → out of processing/ over ${lat.length} replays: p50 ${Math.round(pct(lat, 50))} ms; p95 ${Math.round(p95)} ms (target < 2000) ${p95 < 2000 ? 'PASS' : 'FAIL'}; max ${Math.round(Math.max(...lat))} ms`);

    // The figures after it all: /stats and, in Chromium, the dashboard, each against SQL over the tables.
    const stats = await waitFor('/stats to settle', async () => {
      const s = await statsTruth(stack);
      return JSON.stringify(s.answered) === JSON.stringify(s.sql) ? s : null;
    }, 30000, 500).catch(() => statsTruth(stack));
    const sameStats = JSON.stringify(stats.answered) === JSON.stringify(stats.sql);
    const { files_by_status, rows_loaded, readings_loaded, rows_written_by_table, rows_rejected, folders } = stats.answered;
    out(`/stats: ${JSON.stringify({ files_by_status, rows_loaded, readings_loaded, rows_written_by_table, rows_rejected, folders })}`);
    out(`/stats equals SQL over the tables: ${sameStats ? 'yes' : `NO\n  answered ${JSON.stringify(stats.answered)}\n  sql      ${JSON.stringify(stats.sql)}`}`);
    if (browser) {
      await browser.page.goto(`${stack.url('query-api')}/?key=${encodeURIComponent(stack.queryKey)}`);
      await browser.page.locator('#live.on').waitFor({ timeout: 30000 });
      await browser.page.locator('#sensor-note', { hasText: /readings/ }).waitFor({ timeout: 60000 });
      const truth = await dashboardTruth(stack, browser.page, 60000);
      const samePage = JSON.stringify(truth.page.shown) === JSON.stringify(truth.page.sql);
      out(`dashboard cards: ${JSON.stringify(truth.page.shown.cards)}; ${truth.page.shown.sensors.length} sensors in the picker`);
      out(`dashboard figures equal SQL over the tables: ${samePage ? 'yes' : `NO\n  shown ${JSON.stringify(truth.page.shown)}\n  sql   ${JSON.stringify(truth.page.sql)}`}`);
    } else out(`(dashboard comparison skipped: ${CHROMIUM} is missing)`);
  } finally {
    await browser?.close();
    await stack.stop();
  }
}
