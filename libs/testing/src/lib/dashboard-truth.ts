import { DATA_TABLES, READINGS_TABLE } from '@sluice/contracts';
import type { Page } from 'playwright-core';
import type { Stack } from './stack';

/**
 * The dashboard's figures three ways: as the page shows them (read from the DOM and the drawn chart), as
 * /stats answers them, and as SQL over the tables says they should be. The SQL here is written from what
 * each figure claims, not copied from the query-api: statuses from the ledger, readings from
 * raw_sensor_data and every other table's rows from that table, rejected records from ingest_errors, reading counts per sensor from raw_sensor_data, folders
 * from where the ledger says each file is. Texts are formatted as the page formats them, so a comparison
 * covers the rendering too.
 */

export const DASHBOARD_STATUSES = ['queued', 'processing', 'processed', 'duplicate', 'quarantined', 'failed'] as const;
const TERMINAL = ['processed', 'duplicate', 'quarantined', 'failed'];
const FINISHED_SHOWN = 10;
const ERRORS_SHOWN = 10;
const FIRST_ROW_ERRORS = 3;
const READINGS_DRAWN = 10000;
const WINDOW_S = 60;
const STEP_S = 10;
const BUCKETS = 60;
/** The tables whose rows have a card of their own on the dashboard (when they have any): all but readings. */
const OTHER_TABLES: string[] = DATA_TABLES.filter((t) => t !== READINGS_TABLE);

/** The little of the DOM the page readers use (they run in Chromium; this workspace's types have no DOM). */
interface El {
  textContent: string | null;
  value?: string;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): Iterable<El>;
  getAttribute(name: string): string | null;
}

/** What the cards, lists and charts say. */
export interface DashboardFigures {
  /** Files per status, records loaded, readings written, the rows of each other table that has any (by table name), records rejected. */
  cards: Record<string, number>;
  /** Records per second over the last minute (card and chart heading), and the chart's points [bucket start s, records/s]. */
  throughput: { card: number; heading: string; points: [number, number][] };
  /** The drop folder line: files per area. */
  folders: Record<string, number>;
  /** The in-flight heading's count and its rows ("name status"). */
  inFlight: { heading: string; rows: string[] };
  /** "name | status | records | took", newest first. */
  finished: string[];
  /** "status name | reason | first row errors…", newest first. */
  errors: string[];
  /** The sensor picker: "name (reading count)". */
  sensors: string[];
  /** The sensor chart's note for the drawn range ("N readings"). */
  sensorNote: string;
}

/** What /stats answers, in the same terms. */
export interface StatsFigures {
  files_by_status: Record<string, number>;
  files_total: number;
  rows_loaded: number;
  readings_loaded: number;
  rows_written: number;
  rows_written_by_table: Record<string, number>;
  rows_rejected: number;
  folders: Record<string, number>;
  rows_per_s: number;
  series: [number, number][];
}

interface StatsBody {
  files_by_status: Record<string, number>;
  files_total: number;
  rows_loaded: number;
  readings_loaded: number;
  rows_written: number;
  rows_written_by_table: Record<string, number>;
  rows_rejected: number;
  folders: { source: string; counts: Record<string, number> };
  throughput: { rows_per_s: number; window_s: number; series: { t: string; rows_per_s: number }[] };
  at: string;
}

// The page's own formatting (dashboard.script.ts), so that a text comparison is exact.
const fmtN = (n: number) => Number(n).toLocaleString('en-US');
function fmtMs(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}
const API_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(json|ndjson)$/;
function fileLabel(name: string | null, kind: string | null): string {
  if (!name) return 'a file (name not known yet)';
  const api = API_NAME.exec(name);
  if (!api) return name;
  return `REST ${kind ? kind.replace(/_/g, ' ') : api[1].toUpperCase()} payload`;
}
const rate = (records: number, seconds: number) => Math.round((records / seconds) * 10) / 10;

/** Reads every figure off the page in one pass, plus the /stats body it last rendered. */
export async function dashboardFromPage(page: Page): Promise<{ figures: DashboardFigures; stats: StatsBody | null; drawnRange: { sensor: string; from: string | null; to: string | null } }> {
  return page.evaluate((statuses) => {
    const doc = (globalThis as unknown as { document: El }).document;
    const q = (sel: string) => doc.querySelector(sel);
    const text = (el: El | null) => (el?.textContent ?? '').trim();
    const num = (sel: string) => Number(text(q(sel)).replace(/,/g, ''));
    const cells = (tr: El) => [...tr.querySelectorAll('td')].map((td) => text(td));
    const cards: Record<string, number> = {};
    for (const st of statuses) cards[st] = num(`#counts [data-status="${st}"] .n`);
    for (const f of ['rows_loaded', 'readings_loaded', 'rows_rejected']) cards[f] = num(`#counts [data-figure="${f}"] .n`);
    for (const card of doc.querySelectorAll('#counts [data-table]')) cards[card.getAttribute('data-table') as string] = Number(text(card.querySelector('.n')).replace(/,/g, ''));
    const folders: Record<string, number> = {};
    for (const part of text(q('#folders')).replace(/^[^:]*:\s*/, '').split(' · ')) {
      const m = /^(\S+) ([\d,]+)$/.exec(part);
      if (m) folders[m[1]] = Number(m[2].replace(/,/g, ''));
    }
    const w = globalThis as unknown as { sluiceDashboard: { stats(): StatsBody | null; plots(): Record<string, { data: number[][] } | null> } };
    const plot = w.sluiceDashboard.plots()['throughput'];
    const points: [number, number][] = plot ? plot.data[0].map((x, i) => [x, plot.data[1][i]]) : [];
    const iso = (id: string) => {
      const v = q(id)?.value;
      return v ? new Date(v).toISOString() : null;
    };
    const figures: DashboardFigures = {
      cards,
      throughput: { card: num('#counts [data-figure="rows_per_s"] .n'), heading: text(q('#rate')), points },
      folders,
      inFlight: {
        heading: text(q('#in-flight-count')),
        rows: [...doc.querySelectorAll('#in-flight tbody tr[data-file-id]')].map((tr) => cells(tr).slice(0, 2).join(' ')).sort(),
      },
      finished: [...doc.querySelectorAll('#finished tbody tr[data-file-id]')].map((tr) => cells(tr).join(' | ')),
      errors: [...doc.querySelectorAll('#errors li[data-file-id]')].map((li) =>
        [`${text(li.querySelector('.badge'))} ${text(li.querySelector('strong'))}`, text(li.querySelector('.reason')), ...[...li.querySelectorAll('.rows')].map((r) => text(r))].join(' | '),
      ),
      sensors: [...doc.querySelectorAll('#sensor option')].map((o) => text(o)),
      sensorNote: text(q('#sensor-note')),
    };
    return { figures, stats: w.sluiceDashboard.stats(), drawnRange: { sensor: q('#sensor')?.value ?? '', from: iso('#from'), to: iso('#to') } };
  }, DASHBOARD_STATUSES as unknown as string[]);
}

/** /stats in the terms the SQL gives. */
export function statsFigures(s: StatsBody): StatsFigures {
  return {
    files_by_status: s.files_by_status,
    files_total: s.files_total,
    rows_loaded: s.rows_loaded,
    readings_loaded: s.readings_loaded,
    rows_written: s.rows_written,
    rows_written_by_table: s.rows_written_by_table,
    rows_rejected: s.rows_rejected,
    folders: s.folders.counts,
    rows_per_s: s.throughput.rows_per_s,
    series: s.throughput.series.map((p) => [Date.parse(p.t) / 1000, p.rows_per_s]),
  };
}

type Query = Stack['query'];

/** Files per status, the card totals, the drop folder as the ledger places files, and the throughput window ending at `at`. */
async function sqlCore(query: Query, at: string): Promise<StatsFigures> {
  const byStatus = Object.fromEntries(DASHBOARD_STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const r of await query<{ status: string; n: string }>(`SELECT status, count(*)::text AS n FROM ingest_files GROUP BY status`)) byStatus[r.status] = Number(r.n);
  const [t] = await query<{ rows: string; rejected: string }>(
    `SELECT (SELECT coalesce(sum(rows_loaded), 0) FROM ingest_files)::text AS rows, (SELECT count(*) FROM ingest_errors)::text AS rejected`,
  );
  // Each table's rows, counted in the table itself: readings are the rows of raw_sensor_data.
  const byTable: Record<string, number> = {};
  for (const table of DATA_TABLES) byTable[table] = Number((await query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`))[0].n);
  // Every file not in incoming/ has a ledger row that names its place; REST payloads kept in the database have none on disk.
  const folders: Record<string, number> = { incoming: 0, processing: 0, processed: 0, quarantine: 0 };
  for (const r of await query<{ folder: string; n: string }>(`SELECT split_part(stored_path, '/', 1) AS folder, count(*)::text AS n FROM ingest_files GROUP BY 1`)) {
    if (r.folder in folders) folders[r.folder] = Number(r.n);
  }
  // The ten-second buckets of the last ten minutes up to `at`, and the minute before it: records of processed files by when they finished.
  const atS = Date.parse(at) / 1000;
  const first = (Math.floor(atS / STEP_S) - (BUCKETS - 1)) * STEP_S;
  const done = await query<{ s: number; rows: string }>(
    `SELECT extract(epoch FROM finished_at)::float8 AS s, rows_loaded::text AS rows FROM ingest_files
      WHERE status = 'processed' AND finished_at >= to_timestamp($1) AND finished_at <= $2::timestamptz`,
    [Math.min(first, atS - WINDOW_S), at],
  );
  const series: [number, number][] = Array.from({ length: BUCKETS }, (_, k) => {
    const start = first + k * STEP_S;
    return [start, rate(done.filter((d) => d.s >= start && d.s < start + STEP_S).reduce((a, d) => a + Number(d.rows), 0), STEP_S)];
  });
  return {
    files_by_status: byStatus,
    files_total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    rows_loaded: Number(t.rows),
    readings_loaded: byTable[READINGS_TABLE],
    rows_written: Object.values(byTable).reduce((a, b) => a + b, 0),
    rows_written_by_table: byTable,
    rows_rejected: Number(t.rejected),
    folders,
    rows_per_s: rate(done.filter((d) => d.s >= atS - WINDOW_S).reduce((a, d) => a + Number(d.rows), 0), WINDOW_S),
    series,
  };
}

interface FileRow {
  original_name: string | null;
  kind: string | null;
  status: string;
}

/** What the page should show, by SQL, for the figures of a /stats taken at `at` and a sensor chart drawn over `range`. */
async function dashboardFromSql(query: Query, at: string, range: { sensor: string; from: string | null; to: string | null }): Promise<DashboardFigures> {
  const core = await sqlCore(query, at);
  const inFlight = await query<FileRow>(`SELECT original_name, kind, status FROM ingest_files WHERE status IN ('queued', 'processing')`);
  const finished = await query<FileRow & { rows_loaded: string; rows_rejected: string; ms: number | null }>(
    `SELECT original_name, kind, status, rows_loaded::text, rows_rejected::text,
            round(extract(epoch FROM finished_at - queued_at) * 1000)::float8 AS ms
       FROM ingest_files WHERE status = ANY($1) ORDER BY finished_at DESC NULLS LAST, updated_at DESC, id LIMIT $2`,
    [TERMINAL, FINISHED_SHOWN],
  );
  const errors = await query<FileRow & { error: { rule: string; message: string } | null; rows: { line: number | null; column: string | null; rule: string; message: string }[] }>(
    `SELECT f.original_name, f.kind, f.status, f.error,
            coalesce((SELECT json_agg(e ORDER BY e.line NULLS LAST, e.id) FROM (SELECT id, line, "column", rule, message FROM ingest_errors
                       WHERE file_id = f.id ORDER BY line NULLS LAST, id LIMIT $2) e), '[]') AS rows
       FROM ingest_files f WHERE f.status IN ('quarantined', 'failed') ORDER BY f.updated_at DESC, f.id LIMIT $1`,
    [ERRORS_SHOWN, FIRST_ROW_ERRORS],
  );
  const sensors = await query<{ name: string; n: string }>(
    `SELECT s.name, (SELECT count(*) FROM raw_sensor_data r WHERE r.sensor_id = s.id)::text AS n FROM sensors s ORDER BY s.name`,
  );
  let sensorNote = '';
  if (range.sensor) {
    const [drawn] = await query<{ n: string }>(
      `SELECT count(*)::text AS n FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.name = $1 AND ($2::timestamptz IS NULL OR r.ts >= $2::timestamptz) AND ($3::timestamptz IS NULL OR r.ts < $3::timestamptz)`,
      [range.sensor, range.from, range.to],
    );
    const n = Number(drawn.n);
    sensorNote = `${fmtN(Math.min(n, READINGS_DRAWN))} readings${n > READINGS_DRAWN ? ` (first ${fmtN(READINGS_DRAWN)} of the range)` : ''}`;
  }
  return {
    cards: {
      ...core.files_by_status,
      rows_loaded: core.rows_loaded,
      readings_loaded: core.readings_loaded,
      rows_rejected: core.rows_rejected,
      // (in the order the page reader lists them: these cards after the fixed ones)
      ...Object.fromEntries(OTHER_TABLES.filter((t) => core.rows_written_by_table[t] > 0).map((t) => [t, core.rows_written_by_table[t]])),
    },
    throughput: { card: core.rows_per_s, heading: `${fmtN(core.rows_per_s)} records/s over the last ${WINDOW_S} s`, points: core.series },
    folders: core.folders,
    inFlight: { heading: inFlight.length ? `(${inFlight.length})` : '', rows: inFlight.map((f) => `${fileLabel(f.original_name, f.kind)} ${f.status}`).sort() },
    finished: finished.map((f) =>
      [fileLabel(f.original_name, f.kind), f.status, fmtN(Number(f.rows_loaded)) + (Number(f.rows_rejected) ? ` (${fmtN(Number(f.rows_rejected))} rejected)` : ''), fmtMs(f.ms)].join(' | '),
    ),
    errors: errors.map((f) =>
      [
        `${f.status} ${fileLabel(f.original_name, f.kind)}`,
        f.error ? `${f.error.rule}: ${f.error.message}` : 'no reason recorded',
        ...f.rows.map((r) => `line ${r.line === null ? '?' : r.line}${r.column ? ` [${r.column}]` : ''} ${r.rule}: ${r.message}`),
      ].join(' | '),
    ),
    sensors: sensors.length ? sensors.map((s) => `${s.name} (${fmtN(Number(s.n))})`) : ['no sensors yet'],
    sensorNote,
  };
}

const queryOf =
  (stack: Stack): Query =>
  (sql, params) =>
    stack.query(sql, params);

/** A fresh /stats, and the SQL at the moment it names. */
export async function statsTruth(stack: Stack): Promise<{ answered: StatsFigures; sql: StatsFigures; at: string }> {
  const res = await fetch(`${stack.url('query-api')}/stats`, { headers: { 'x-api-key': stack.queryKey } });
  const body = (await res.json()) as StatsBody;
  return { answered: statsFigures(body), sql: await sqlCore(queryOf(stack), body.at), at: body.at };
}

export interface DashboardTruth {
  /** The page's figures and what SQL says they should be, at the moment of the /stats it rendered. */
  page: { shown: DashboardFigures; sql: DashboardFigures };
  /** A fresh /stats and the SQL at its moment. */
  stats: { answered: StatsFigures; sql: StatsFigures; at: string };
}

/**
 * Reads the dashboard and /stats and computes their SQL, until each pair agrees (the page refreshes shortly
 * after each event, and a figure read between a commit and that refresh is not yet a wrong one) or
 * `timeoutMs` passes; returns the last reading either way, for the caller to compare.
 */
export async function dashboardTruth(stack: Stack, page: Page, timeoutMs = 30000): Promise<DashboardTruth> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const read = await dashboardFromPage(page);
    const stats = await statsTruth(stack);
    const truth: DashboardTruth = { page: { shown: read.figures, sql: await dashboardFromSql(queryOf(stack), read.stats?.at ?? stats.at, read.drawnRange) }, stats };
    const agree = JSON.stringify(truth.page.shown) === JSON.stringify(truth.page.sql) && JSON.stringify(truth.stats.answered) === JSON.stringify(truth.stats.sql);
    if (agree || Date.now() > deadline) return truth;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The activity feed against the ledger: for every file it lists, its newest line shows the file's status
 * now, and a `processed` line the records the ledger counts for that run. Returns the disagreements.
 */
export async function activityMismatches(stack: Stack, page: Page): Promise<string[]> {
  const newest = await page.evaluate(() => {
    const document = (globalThis as unknown as { document: El }).document;
    const seen = new Map<string, { status: string; text: string }>();
    for (const li of document.querySelectorAll('#activity li[data-file-id]')) {
      const id = li.getAttribute('data-file-id') as string;
      if (!seen.has(id)) seen.set(id, { status: li.getAttribute('data-status') ?? '', text: li.textContent ?? '' });
    }
    return [...seen.entries()];
  });
  const rows = await stack.query<FileRow & { id: string; rows_loaded: string }>(`SELECT id::text AS id, original_name, kind, status, rows_loaded::text FROM ingest_files WHERE id = ANY($1::uuid[])`, [
    newest.map(([id]) => id),
  ]);
  const problems: string[] = [];
  for (const [id, line] of newest) {
    const row = rows.find((r) => r.id === id);
    if (!row) problems.push(`${id}: listed but not in the ledger`);
    else if (line.status !== row.status) problems.push(`${fileLabel(row.original_name, row.kind)}: shows ${line.status}, ledger ${row.status}`);
    else if (!line.text.includes(fileLabel(row.original_name, row.kind))) problems.push(`${id}: "${line.text}" does not name ${fileLabel(row.original_name, row.kind)}`);
    else if (row.status === 'processed' && !line.text.includes(`· ${fmtN(Number(row.rows_loaded))} records`)) problems.push(`${row.original_name}: "${line.text}" but ${row.rows_loaded} records loaded`);
  }
  return problems;
}
