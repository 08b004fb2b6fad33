import type { Command } from 'commander';
import { type CommonConfig, contractsDir, formatBytes, nextCronRun } from '@sluice/config';
import { addRows, FILE_STATUSES, readingsOf, type RowsByTable } from '@sluice/contracts';
import { ContractCatalog, type ContractProblem } from '@sluice/datasets';
import type { DatasetFigures, MaintenanceRunSummary, SqlQueryable, TableStorage } from '@sluice/db';
import type { CliContext } from '../cli-context';
import { type CliIo, escapeControls, formatCount, renderTable, terminalJson, terminalWidth, wrapText } from '../output';
import { ROWS_WRITTEN_SUMS, rowsWrittenLines, rowsWrittenOf } from '../rows-written';
import { renderSourceStatuses, sourceStatuses, type SourceStatus } from './s3-sources.status';

interface StatusReport {
  statuses: Record<string, number>;
  /** Sensor readings written: rows of raw_sensor_data. */
  readingsLoaded: number;
  /** Rows written per data table (tables with none left out); readings are the raw_sensor_data ones. */
  rowsWrittenByTable: RowsByTable;
  rowsRejected: number;
  inFlight: { id: string; name: string; status: string; attempts: number; waitingSeconds: number }[];
  inFlightTotal: number;
  recentErrors: { id: string; name: string; status: string; rule: string | null; message: string | null; finishedAt: string | null }[];
  sources: SourceStatus[];
  storage: StorageReport;
  datasets: DatasetsReport;
}

/** The data contracts in force with their tables' figures, and the contract files refused, as `GET /datasets` reports them. */
export interface DatasetsReport {
  folder: string;
  datasets: DatasetFigures[];
  problems: ContractProblem[];
}

/** What the data takes on disk and how long it is kept, as `/stats` reports it. */
export interface StorageReport {
  tables: TableStorage[];
  totalBytes: number;
  oldestReading: string | null;
  partitionInterval: string;
  /** Each retention variable as set (`90d`), null when it keeps everything. */
  retention: Record<string, string | null>;
  maintenance: { cron: string; nextRun: string | null; lastRun: MaintenanceRunSummary | null };
}

/** The retention variables, by what they keep. */
const RETENTION_SHOWN = [
  ['raw readings', 'RAW_RETENTION'],
  ['hourly aggregates', 'HOURLY_AGGREGATE_RETENTION'],
  ['daily aggregates', 'DAILY_AGGREGATE_RETENTION'],
  ['log lines', 'LOG_RETENTION'],
  ['processed files', 'PROCESSED_RETENTION'],
  ['quarantined files', 'QUARANTINE_RETENTION'],
  ['stored bodies', 'PAYLOAD_RETENTION'],
  ['ledger rows', 'LEDGER_RETENTION'],
] as const;
type RetentionVariable = (typeof RETENTION_SHOWN)[number][1];

const IN_FLIGHT_SHOWN = 20;
const ERRORS_SHOWN = 10;

export function registerStatus(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('status')
    .description('Files per status, files in flight and the most recent errors, from the ledger.')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ds = await ctx().db();
      const counts: ({ status: string; n: number; rejected: string } & Record<string, unknown>)[] = await ds.query(
        `SELECT status, count(*)::int AS n, coalesce(sum(rows_rejected), 0)::text AS rejected, ${ROWS_WRITTEN_SUMS}
           FROM ingest_files GROUP BY status`,
      );
      const written = addRows(...counts.map(rowsWrittenOf));
      const inFlight: { id: string; name: string; status: string; attempts: number; waiting: number; total: number }[] = await ds.query(
        `SELECT id, original_name AS name, status, attempts, extract(epoch FROM now() - updated_at)::float8 AS waiting, count(*) OVER ()::int AS total
           FROM ingest_files WHERE status IN ('queued','processing') ORDER BY created_at LIMIT $1`,
        [IN_FLIGHT_SHOWN],
      );
      const errors: { id: string; name: string; status: string; rule: string | null; message: string | null; finished_at: string | null }[] = await ds.query(
        `SELECT id, original_name AS name, status, error->>'rule' AS rule, error->>'message' AS message,
                to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS finished_at
           FROM ingest_files WHERE status IN ('quarantined','failed') ORDER BY finished_at DESC NULLS LAST LIMIT $1`,
        [ERRORS_SHOWN],
      );
      const report: StatusReport = {
        statuses: Object.fromEntries(FILE_STATUSES.map((s) => [s, counts.find((c) => c.status === s)?.n ?? 0])),
        readingsLoaded: readingsOf(written),
        rowsWrittenByTable: written,
        rowsRejected: counts.reduce((n, c) => n + Number(c.rejected), 0),
        inFlight: inFlight.map((r) => ({ id: r.id, name: r.name, status: r.status, attempts: r.attempts, waitingSeconds: Math.round(r.waiting) })),
        inFlightTotal: inFlight[0]?.total ?? 0,
        recentErrors: errors.map((e) => ({ id: e.id, name: e.name, status: e.status, rule: e.rule, message: e.message, finishedAt: e.finished_at })),
        sources: await sourceStatuses(ds),
        storage: await storageReport(ds, ctx().config),
        datasets: await datasetsReport(ds, ctx().config),
      };
      io.out.write(opts.json ? terminalJson(report) + '\n' : renderStatus(report, terminalWidth(io.out)));
    });
}

async function storageReport(
  ds: SqlQueryable,
  config: Partial<Record<RetentionVariable, string>> & { PARTITION_INTERVAL: string; MAINTENANCE_CRON: string },
): Promise<StorageReport> {
  // Loaded when used, as the CLI loads the db library everywhere (start-up time of the other commands).
  const { lastMaintenanceRun, oldestReading, tableStorage } = await import('@sluice/db');
  const [tables, oldest, lastRun] = await Promise.all([tableStorage(ds), oldestReading(ds), lastMaintenanceRun(ds)]);
  return {
    tables,
    totalBytes: tables.reduce((n, t) => n + t.bytes, 0),
    oldestReading: oldest,
    partitionInterval: config.PARTITION_INTERVAL,
    retention: Object.fromEntries(RETENTION_SHOWN.map(([, v]) => [v, config[v] ?? null])),
    maintenance: { cron: config.MAINTENANCE_CRON, nextRun: nextCronRun(config.MAINTENANCE_CRON), lastRun },
  };
}

/** The contracts folder read as the services read it, and each contract's figures (`datasetFigures`, shared with `GET /datasets`). */
async function datasetsReport(ds: SqlQueryable, config: CommonConfig & { DROPZONE_DIR?: string }): Promise<DatasetsReport> {
  const { datasetFigures } = await import('@sluice/db');
  const catalog = new ContractCatalog(contractsDir(config));
  catalog.refresh();
  return { folder: catalog.folder, datasets: await datasetFigures(ds, config.CONTRACTS_SCHEMA, catalog.all()), problems: catalog.problems() };
}

const filesLine = (files: Record<string, number>) => {
  const entries = Object.entries(files);
  return entries.length === 0 ? '0' : entries.map(([status, n]) => `${formatCount(n)} ${status}`).join(', ');
};

/** The datasets section: each contract in force (rows, files, last load), then each refused contract file with its reason. */
export function renderDatasets(r: DatasetsReport, width: number): string[] {
  const out: string[] = [];
  if (r.datasets.length === 0) out.push(`Datasets: none (no data contract in force in ${escapeControls(r.folder)})`);
  else {
    out.push(`Datasets (data contracts in ${escapeControls(r.folder)})`);
    out.push(
      renderTable(
        ['dataset', 'table', 'rows', 'files', 'last load'],
        r.datasets.map((d) => [d.name, d.table, d.table_exists ? `${d.rows_exact ? '' : '~'}${formatCount(d.rows)}` : '0 (no table yet)', filesLine(d.files), d.last_load_at ?? 'never']),
        width,
      ),
    );
  }
  if (r.problems.length > 0) {
    out.push(`Contract files refused (${new Set(r.problems.map((p) => p.file)).size}; a contract keeps its previous version in force)`);
    for (const p of r.problems) out.push(wrapText(escapeControls(`${p.file}${p.line ? `:${p.line}` : ''}${p.field ? ` ${p.field}` : ''}: ${p.message}`), width, '  '));
  }
  return out;
}

/** The storage section: sizes per table, the oldest reading, retention, the maintenance runs. */
export function renderStorage(s: StorageReport, width: number): string[] {
  const out: string[] = [];
  out.push(`Storage: ${formatBytes(s.totalBytes)} on disk (time partitions by ${s.partitionInterval})`);
  out.push(
    renderTable(
      ['table', 'on disk', 'partitions', 'rows (estimate)'],
      s.tables.map((t) => [t.table, formatBytes(t.bytes), t.partitions === 0 ? '-' : formatCount(t.partitions), formatCount(t.estimated_rows)]),
      width,
    ),
  );
  out.push(`Oldest reading kept: ${s.oldestReading ?? 'none'}`);
  out.push('Retention (unset: kept)');
  out.push(wrapText(RETENTION_SHOWN.map(([what, v]) => `${what} ${s.retention[v] ?? 'kept'}`).join(', '), width, '  '));
  const last = s.maintenance.lastRun;
  out.push(`Maintenance (${escapeControls(s.maintenance.cron)}, UTC)`);
  out.push(
    wrapText(
      escapeControls(
        !last
          ? 'last run: never'
          : `last run: ${last.finished_at} (${last.trigger}${last.dry_run ? ', dry run' : ''}), ${last.error ? `failed: ${last.error}` : `${formatBytes(last.bytes_reclaimed)} ${last.dry_run ? 'would be ' : ''}reclaimed`}`,
      ),
      width,
      '  ',
    ),
  );
  out.push(`  next run: ${s.maintenance.nextRun ?? 'unknown (MAINTENANCE_CRON cannot be read)'}`);
  return out;
}

/** The report as text within `width` columns; reasons are wrapped whole, never cut (`sluice why` shows the rest). */
export function renderStatus(r: StatusReport, width: number): string {
  const out: string[] = [];
  out.push('Files by status');
  out.push(renderTable(['status', 'files'], [...Object.entries(r.statuses).map(([s, n]) => [s, formatCount(n)]), ['total', formatCount(Object.values(r.statuses).reduce((a, b) => a + b, 0))]]));
  out.push([...rowsWrittenLines(r.rowsWrittenByTable, formatCount).map(([what, n]) => `${what} ${n}`), `rejected lines ${formatCount(r.rowsRejected)}`].join(', '));
  out.push('');
  if (r.inFlightTotal === 0) out.push('In flight: none');
  else {
    out.push(`In flight: ${formatCount(r.inFlightTotal)}${r.inFlightTotal > r.inFlight.length ? ` (oldest ${r.inFlight.length} shown)` : ''}`);
    out.push(renderTable(['file', 'name', 'status', 'attempts', 'since last change'], r.inFlight.map((f) => [f.id, f.name, f.status, f.attempts, `${f.waitingSeconds} s`]), width));
  }
  out.push('');
  if (r.recentErrors.length === 0) out.push('Recent errors: none');
  else {
    out.push('Recent errors (sluice why <file> shows one in full)');
    for (const e of r.recentErrors) {
      out.push(wrapText(escapeControls(`${e.finishedAt ?? ''}  ${e.status}  ${e.name}  (${e.id})`), width, '  '));
      out.push(wrapText(escapeControls(`${e.rule ?? ''}: ${e.message ?? ''}`), width, '      '));
    }
  }
  out.push(...renderSourceStatuses(r.sources));
  out.push('');
  out.push(...renderDatasets(r.datasets, width));
  out.push('');
  out.push(...renderStorage(r.storage, width));
  return out.join('\n') + '\n';
}
