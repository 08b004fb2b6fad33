import type { Command } from 'commander';
import { addRows, DATA_TABLE_NOUNS, DATA_TABLES, isTerminal, readingsOf, totalRows, type FileStatus, type RowsByTable } from '@sluice/contracts';
import { isArchiveMember, isStoredInObjectStore, parseObjectStoredPath, objectDisplayName, resolveInside } from '@sluice/storage';
import { stat } from 'node:fs/promises';
import type { DataSource } from 'typeorm';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { positiveInt, UUID } from '../options';
import { type CliIo, escapeControls, formatCount, terminalJson, terminalWidth, wrapText } from '../output';
const OTHER_MATCHES_SHOWN = 5;

interface FileRow {
  id: string;
  source: string;
  name: string;
  stored_path: string;
  sha256: string;
  size_bytes: string;
  kind: string | null;
  status: FileStatus;
  duplicate_of: string | null;
  rows_total: string;
  rows_loaded: string;
  rows_rejected: string;
  rows_written: string;
  rows_written_by_table: RowsByTable | null;
  compression: string | null;
  archive_id: string | null;
  member_index: number | null;
  rule: string | null;
  message: string | null;
  attempts: number;
  replays: number;
  created_at: string;
  finished_at: string | null;
  expired_at?: string | null;
}

interface RowError {
  line: number | null;
  column: string | null;
  rule: string;
  message: string;
  value: string | null;
}

/** Everything `sluice why` says about one ledger row. */
export interface WhyReport {
  id: string;
  name: string;
  status: FileStatus;
  kind: string | null;
  source: string;
  reason: { rule: string; message: string } | null;
  /** Records read, loaded and rejected; rows written to the data tables, all together and per table (readings: raw_sensor_data). */
  rows: { total: number; loaded: number; rejected: number; readingsWritten: number; written: number; writtenByTable: RowsByTable };
  attempts: number;
  replays: number;
  receivedAt: string;
  finishedAt: string | null;
  /** When retention removed the file's bytes (PROCESSED_RETENTION, QUARANTINE_RETENTION, PAYLOAD_RETENTION); null while kept. */
  expiredAt: string | null;
  bytes: { where: string; sizeBytes: number; sha256: string; present: boolean | null };
  duplicateOf: { id: string; name: string; status: string } | null;
  duplicatedBy: number;
  rowErrors: { total: number; from: number; shown: RowError[] };
  /** Other ledger rows with the same name (newest first): the one shown is the newest. */
  sameName: { id: string; status: string; receivedAt: string }[];
  replay: string | null;
}

const TS = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

export function registerWhy(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('why')
    .argument('<file>', "a ledger id, or a file's name as it was dropped (the newest file of that name)")
    .description("One file's outcome: status, the full reason, its row errors, where its bytes are and how to replay it.")
    .option('--errors <n>', 'row errors to show', positiveInt('--errors', 10000), 20)
    .option('--page <k>', 'which page of row errors (of --errors each)', positiveInt('--page'), 1)
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sluice why split_2.csv
  sluice why 3f2a6c1e-0c4e-4b8e-9a57-1d2c3b4a5f60 --errors 100 --page 2`,
    )
    .action(async (file: string, opts: { errors: number; page: number; json?: boolean }) => {
      const c = ctx();
      const report = await whyReport(await c.db(), c.config.DROPZONE_DIR, file, opts.errors, opts.page);
      io.out.write(opts.json ? terminalJson(report) + '\n' : renderWhy(report, terminalWidth(io.out)));
    });
}

export async function whyReport(ds: DataSource, dropRoot: string, file: string, perPage: number, page: number): Promise<WhyReport> {
  const byId = UUID.test(file);
  const rows: (FileRow & { total_matches: number })[] = await ds.query(
    `SELECT id, source, original_name AS name, stored_path, sha256, size_bytes::text, kind, status, duplicate_of,
            rows_total::text, rows_loaded::text, rows_rejected::text, rows_written::text, rows_written_by_table, compression, archive_id, member_index,
            error->>'rule' AS rule, error->>'message' AS message, attempts, replays,
            ${TS('created_at')} AS created_at, ${TS('finished_at')} AS finished_at, ${TS('expired_at')} AS expired_at
       FROM ingest_files WHERE ${byId ? 'id = $1::uuid' : 'original_name = $1'}
      ORDER BY created_at DESC LIMIT ${OTHER_MATCHES_SHOWN + 1}`,
    [file],
  );
  const row = rows[0];
  if (!row) throw new CliError(`no file ${byId ? 'with id' : 'named'} ${JSON.stringify(file)} in the ledger${byId ? '' : ' (names are as dropped, relative to incoming/; sluice status lists recent ones)'}`);
  const from = (page - 1) * perPage;
  const [errors, [{ n: errorTotal }], [duplicateOf], [{ n: duplicatedBy }]] = await Promise.all([
    ds.query(`SELECT line, "column", rule, message, raw AS value FROM ingest_errors WHERE file_id = $1 ORDER BY line NULLS FIRST, id OFFSET $2 LIMIT $3`, [row.id, from, perPage]) as Promise<RowError[]>,
    ds.query(`SELECT count(*)::int AS n FROM ingest_errors WHERE file_id = $1`, [row.id]) as Promise<{ n: number }[]>,
    row.duplicate_of
      ? (ds.query(`SELECT id, original_name AS name, status FROM ingest_files WHERE id = $1`, [row.duplicate_of]) as Promise<{ id: string; name: string; status: string }[]>)
      : Promise.resolve([]),
    ds.query(`SELECT count(*)::int AS n FROM ingest_files WHERE duplicate_of = $1`, [row.id]) as Promise<{ n: number }[]>,
  ]);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    kind: row.kind,
    source: row.source,
    reason: row.rule || row.message ? { rule: row.rule ?? '', message: row.message ?? '' } : null,
    rows: {
      total: Number(row.rows_total),
      loaded: Number(row.rows_loaded),
      rejected: Number(row.rows_rejected),
      readingsWritten: readingsOf(row.rows_written_by_table),
      written: Number(row.rows_written),
      writtenByTable: addRows(row.rows_written_by_table),
    },
    attempts: row.attempts,
    replays: row.replays,
    receivedAt: row.created_at,
    finishedAt: row.finished_at,
    expiredAt: row.expired_at ?? null,
    bytes: { where: whereBytesAre(row, dropRoot), sizeBytes: Number(row.size_bytes), sha256: row.sha256.trim(), present: await presentInDropFolder(row.stored_path, dropRoot) },
    duplicateOf: duplicateOf ?? (row.duplicate_of ? { id: row.duplicate_of, name: '(no longer in the ledger)', status: '' } : null),
    duplicatedBy,
    rowErrors: { total: errorTotal, from: from + 1, shown: errors },
    sameName: rows.slice(1).map((r) => ({ id: r.id, status: r.status, receivedAt: r.created_at })),
    replay: replayable(row.status) && !row.expired_at ? `sluice replay ${row.id}` : null,
  };
}

/** The statuses a replay accepts (a duplicate is replayed through its original, a file in flight is not finished). */
const replayable = (s: FileStatus) => isTerminal(s) && s !== 'duplicate';

function whereBytesAre(row: FileRow, dropRoot: string): string {
  if (row.stored_path.startsWith('database/')) return 'in the database (table ingest_payloads)';
  if (isArchiveMember(row.stored_path)) return `member #${row.member_index ?? '?'} of the zip archive ${row.archive_id ?? '?'} (sluice why ${row.archive_id ?? ''})`;
  if (isStoredInObjectStore(row.stored_path)) {
    const loc = parseObjectStoredPath(row.stored_path);
    return loc ? `${objectDisplayName(loc)}, version ${loc.etag} (source "${loc.source}")` : row.stored_path;
  }
  return `${dropRoot.replace(/\/+$/, '')}/${row.stored_path}`;
}

/** Whether a drop-folder file is still there (null when the bytes are not kept in the drop folder). */
async function presentInDropFolder(storedPath: string, dropRoot: string): Promise<boolean | null> {
  if (storedPath.startsWith('database/') || isArchiveMember(storedPath) || isStoredInObjectStore(storedPath)) return null;
  try {
    return (await stat(resolveInside(dropRoot, storedPath))).isFile();
  } catch {
    return false;
  }
}

/** The rows a file wrote, table by table under their own names: `196 readings (raw_sensor_data), 1 measurement (measurements)`. */
function writtenText(written: number, byTable: RowsByTable): string {
  const parts = DATA_TABLES.filter((t) => byTable[t]).map((t) => {
    const n = byTable[t] ?? 0;
    return `${formatCount(n)} ${n === 1 ? DATA_TABLE_NOUNS[t].one : DATA_TABLE_NOUNS[t].many} (${t})`;
  });
  // A file loaded before the ledger kept rows per table may have written rows it can no longer place.
  const unplaced = written - totalRows(byTable);
  if (unplaced > 0) parts.push(`${formatCount(unplaced)} rows in tables not recorded`);
  return parts.length ? parts.join(', ') : 'no rows';
}

function replayLine(r: WhyReport): string {
  if (r.replay) return `Replay: ${r.replay}`;
  if (r.expiredAt) return `Replay: not possible, retention removed its bytes at ${r.expiredAt}`;
  if (r.status === 'duplicate') return `Replay: a duplicate is replayed through its original (sluice why ${r.duplicateOf?.id ?? ''})`;
  return 'Replay: not before it has finished';
}

export function renderWhy(r: WhyReport, width: number): string {
  const out: string[] = [];
  const field = (label: string, text: string) => out.push(wrapText(escapeControls(text), width, `  ${label.padEnd(12)}`));
  out.push(escapeControls(`${r.name}  (${r.id})`));
  field('status', `${r.status}${r.finishedAt ? `, finished ${r.finishedAt}` : ''} (attempts ${r.attempts}, replays ${r.replays})`);
  if (r.reason) field('reason', `${r.reason.rule}: ${r.reason.message}`);
  field('kind', r.kind ?? '(not recognised)');
  field('received', `${r.receivedAt} from ${r.source}`);
  const presence = r.expiredAt ? ` (removed by retention at ${r.expiredAt})` : r.bytes.present === false ? ' (no longer there)' : '';
  field('bytes', `${r.bytes.where}${presence}; ${formatCount(r.bytes.sizeBytes)} bytes, sha256 ${r.bytes.sha256}`);
  field('rows', `${formatCount(r.rows.total)} read, ${formatCount(r.rows.loaded)} loaded, ${formatCount(r.rows.rejected)} rejected`);
  field('written', writtenText(r.rows.written, r.rows.writtenByTable));
  if (r.duplicateOf) field('duplicate of', `${r.duplicateOf.id} (${r.duplicateOf.name}${r.duplicateOf.status ? `, ${r.duplicateOf.status}` : ''}): the same content was received before; nothing of this copy loads`);
  if (r.duplicatedBy > 0) field('duplicates', `${formatCount(r.duplicatedBy)} later file(s) had the same content and were recorded as duplicates of this one`);
  if (r.sameName.length > 0) field('same name', `older files of this name: ${r.sameName.map((s) => `${s.id} (${s.status}, ${s.receivedAt})`).join('; ')}`);
  out.push('');
  if (r.rowErrors.total === 0) out.push('Row errors: none');
  else {
    const to = r.rowErrors.from + r.rowErrors.shown.length - 1;
    out.push(
      r.rowErrors.shown.length === 0
        ? `Row errors: ${formatCount(r.rowErrors.total)}; none on this page`
        : `Row errors ${formatCount(r.rowErrors.from)}–${formatCount(to)} of ${formatCount(r.rowErrors.total)}${to < r.rowErrors.total ? ' (--page for more)' : ''}`,
    );
    for (const e of r.rowErrors.shown) {
      const at = [e.line === null ? null : `line ${e.line}`, e.column === null ? null : `column ${e.column}`].filter(Boolean).join(', ');
      out.push(wrapText(escapeControls(`${at ? `${at}: ` : ''}${e.rule}: ${e.message}`), width, '  '));
      if (e.value !== null) out.push(wrapText(escapeControls(`value: ${JSON.stringify(e.value)}`), width, '      '));
    }
  }
  out.push('');
  out.push(replayLine(r));
  return out.join('\n') + '\n';
}
