import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FileKind, RejectReason } from '@sluice/contracts';
import type { ContractInput, ContractVersion } from '@sluice/datasets';
import { DatasetTableError, DatasetTables, formatTableDiff, isMismatch, rowsOf, withConnection, type ConnectionPool } from '@sluice/db';
import {
  CompressedContentError,
  DEFAULT_DECOMPRESSION_LIMITS,
  decompressed,
  microsToIso,
  readDetectionHead,
  readLongCsv,
  readMappingCsv,
  readWideCsv,
  SensorCsvFormatError,
  type DecompressionLimits,
  type RowReject,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import { DEFAULT_MAX_LINE_BYTES } from '../json/ndjson.loader';
import type { LoadOptions } from '../kind-loader';
import { destroy } from '../load-stream';
import { RowTally } from '../sensor/row-tally';
import { contractFileName, type ContractChooser } from '../contract/contracts.service';
import { detectFile } from '../loader-registry';
import { RejectCounts, type CheckReport } from './check-report';
import { checkContractFile } from './contract-check';
import { MAX_MEMORY_KEYS } from '../contract/contract.loader';

export interface FileCheckDeps {
  /** The database (TypeORM's DataSource): read in READ ONLY transactions only. */
  db: ConnectionPool;
  contracts: ContractChooser;
  /** CONTRACTS_SCHEMA. */
  schema: string;
  /** The policies and limits the processor loads with (INVALID_ROWS, MAX_INVALID_RATIO, …). */
  options: LoadOptions;
  decompression?: DecompressionLimits;
}

export interface CheckInput {
  /** Where the file comes from, as contracts' `inputs` match it. */
  input: ContractInput;
}

const LIVE = `('queued','processing','processed')`;

/**
 * A dry run of loading one file: the kind or contract that takes it, its rows counted and checked as the loader
 * would, its keys looked up in the table, and the verdict. It writes nothing: every statement runs in a
 * READ ONLY transaction, and only SELECTs are sent (a rolled-back write would still count in the table statistics).
 */
export class FileCheck {
  constructor(private readonly deps: FileCheckDeps) {}

  async check(name: string, open: () => Readable, { input }: CheckInput): Promise<CheckReport> {
    const report = emptyReport(name);
    const limits = this.deps.decompression ?? DEFAULT_DECOMPRESSION_LIMITS;
    const content = () => decompressed(open(), limits, { name });
    const maxLine = this.deps.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    let head: Buffer;
    try {
      report.sha256 = await sha256Of(content());
      const stream = content();
      try {
        head = await readDetectionHead(stream, maxLine);
      } finally {
        destroy(stream);
      }
    } catch (e) {
      if (!(e instanceof CompressedContentError)) throw e;
      return quarantine(report, e.message);
    }

    const detected = detectFile(head, name, input, this.deps.contracts);
    if ('reason' in detected) return quarantine(report, reasonText(detected.reason));
    const version = 'contract' in detected ? detected.contract : null;
    report.kind = detected.kind;
    if (version) {
      report.contract = version.contract.name;
      report.contract_version = version.hash;
    }

    return withConnection(this.deps.db, async (client) => {
      await client.query('BEGIN TRANSACTION READ ONLY');
      try {
        const live = rowsOf<{ id: string }>(await client.query(`SELECT id::text AS id FROM ingest_files WHERE sha256 = $1 AND status IN ${LIVE} LIMIT 1`, [report.sha256]));
        if (live[0]) {
          report.verdict = 'duplicate';
          report.duplicate_of = live[0].id;
          report.reason = `the same content is already loaded (or queued) as file ${live[0].id}`;
          return report;
        }
        if (version) await this.checkContract(client, version, content, report);
        else await this.checkBuiltIn(client, report.kind as FileKind, content, report);
        return report;
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }

  private async checkContract(client: PoolClient, version: ContractVersion, content: () => Readable, report: CheckReport): Promise<void> {
    let table;
    try {
      table = await new DatasetTables(this.deps.db, this.deps.schema).inspect(client, version.contract);
    } catch (e) {
      // The loader's reasons, so that a check says what the load would.
      if (!(e instanceof DatasetTableError)) throw e;
      quarantine(report, `contract_invalid: contract ${version.contract.name} (${contractFileName(version)}): ${e.message}`);
      return;
    }
    if (table.exists && !table.matches) {
      report.drift = table.diff;
      const differences = table.diff.filter(isMismatch).map(formatTableDiff).join('; ');
      quarantine(report, `table_mismatch: the table ${this.deps.schema}.${version.contract.table.name} does not match contract ${version.contract.name} (${contractFileName(version)}): ${differences}`);
      return;
    }
    const r = await checkContractFile(client, version.contract, this.deps.schema, table.exists, content, this.deps.options);
    report.rows_total = r.rowsTotal;
    report.would_load = r.wouldLoad;
    report.duplicate_rows = r.duplicates;
    report.rejected = r.rejects.byRule;
    report.samples = r.rejects.samples;
    report.drift = r.drift;
    if (r.rejection) quarantine(report, reasonText(r.rejection));
    else if (r.keysBeyondMemory) {
      report.reason = `the file has more than ${MAX_MEMORY_KEYS.toLocaleString('en')} keys: a key it repeats past those was not counted as a repeat (the load finds such repeats by the table's key)`;
    }
  }

  private async checkBuiltIn(client: PoolClient, kind: FileKind, content: () => Readable, report: CheckReport): Promise<void> {
    const opts = this.deps.options;
    const tally = new RowTally(opts);
    const counts = new RejectCounts();
    let duplicates = 0;
    let rejection: RejectReason | null = null;
    const stream = content();
    const csv = { ranges: opts.ranges, naiveTimeZone: opts.naiveTimeZone, notBeforeMicros: opts.notBefore?.rawMicros, maxColumns: opts.maxCsvColumns, maxHeaderBytes: opts.maxLineBytes };
    const add = (rows: number, rejects: RowReject[]): boolean => {
      tally.addRows(rows);
      counts.add(rejects);
      return tally.addRejects(rejects);
    };
    try {
      if (kind === 'sensor_wide_csv') {
        for await (const batch of readWideCsv(stream, csv)) {
          if (add(batch.rows.length, batch.rejects)) break;
          duplicates += await loadedWide(client, batch.header.metrics, batch.rows);
        }
      } else if (kind === 'sensor_long_csv') {
        for await (const batch of readLongCsv(stream, csv)) {
          if (add(batch.rows.length, batch.rejects)) break;
          duplicates += await loadedLong(client, batch.rows);
        }
      } else if (kind === 'sensor_mapping_csv') {
        for await (const batch of readMappingCsv(stream, { maxColumns: opts.maxCsvColumns, maxHeaderBytes: opts.maxLineBytes })) {
          if (add(batch.rows.length, batch.rejects)) break;
        }
        report.reason = 'names already given to other sensors are not checked';
      } else {
        // JSON documents, NDJSON and logs: the kind and the duplicate content are checked, not their rows.
        report.reason = `rows of ${kind} files are not counted by the check`;
        return;
      }
      rejection = tally.rejection();
    } catch (e) {
      if (!(e instanceof SensorCsvFormatError)) throw e;
      rejection = e.reason;
    } finally {
      destroy(stream);
    }
    report.rows_total = tally.total;
    report.would_load = rejection ? 0 : tally.total - tally.bad;
    report.duplicate_rows = rejection ? 0 : duplicates;
    report.rejected = counts.byRule;
    report.samples = counts.samples;
    if (rejection) quarantine(report, reasonText(rejection));
  }
}

/** Wide rows whose every reading is in raw_sensor_data already (same sensor and time). */
async function loadedWide(client: PoolClient, metrics: readonly string[], rows: ReadonlyArray<{ device: string; tsMicros: number; line: number }>): Promise<number> {
  if (!rows.length) return 0;
  const names = [...new Set(rows.map((r) => r.device))].flatMap((d) => metrics.map((m) => `${d}/${m}`));
  const ids = new Map(rowsOf<{ id: number; name: string }>(await client.query(`SELECT id, name FROM sensors WHERE name = ANY($1::text[])`, [names])).map((s) => [s.name, s.id]));
  const probe: Array<{ row: number; id: number; ts: string }> = [];
  rows.forEach((r, row) => {
    for (const m of metrics) {
      const id = ids.get(`${r.device}/${m}`);
      if (id !== undefined) probe.push({ row, id, ts: microsToIso(r.tsMicros) });
    }
  });
  const hits = await loadedReadings(client, probe);
  let n = 0;
  rows.forEach((_, row) => {
    if ((hits.get(row) ?? 0) === metrics.length) n++;
  });
  return n;
}

/** Long rows whose reading is in raw_sensor_data already. */
async function loadedLong(client: PoolClient, rows: ReadonlyArray<{ uuid: string; tsMicros: number }>): Promise<number> {
  if (!rows.length) return 0;
  const ids = new Map(
    rowsOf<{ id: number; uuid: string }>(await client.query(`SELECT id, uuid::text AS uuid FROM sensors WHERE uuid = ANY($1::uuid[])`, [[...new Set(rows.map((r) => r.uuid))]])).map((s) => [s.uuid, s.id]),
  );
  const probe: Array<{ row: number; id: number; ts: string }> = [];
  rows.forEach((r, row) => {
    const id = ids.get(r.uuid);
    if (id !== undefined) probe.push({ row, id, ts: microsToIso(r.tsMicros) });
  });
  return (await loadedReadings(client, probe)).size;
}

/** Per row, how many of its readings raw_sensor_data holds (by its key: sensor and time). */
async function loadedReadings(client: PoolClient, probe: ReadonlyArray<{ row: number; id: number; ts: string }>): Promise<Map<number, number>> {
  const hits = new Map<number, number>();
  if (!probe.length) return hits;
  const found = rowsOf<{ row: number; n: number }>(
    await client.query(
      `SELECT u.row, count(*)::int AS n FROM unnest($1::int[], $2::int[], $3::timestamptz[]) AS u(row, id, ts)
       JOIN raw_sensor_data r ON r.sensor_id = u.id AND r.ts = u.ts GROUP BY u.row`,
      [probe.map((p) => p.row), probe.map((p) => p.id), probe.map((p) => p.ts)],
    ),
  );
  for (const f of found) hits.set(f.row, f.n);
  return hits;
}

function emptyReport(file: string): CheckReport {
  return {
    file,
    sha256: null,
    kind: null,
    contract: null,
    contract_version: null,
    rows_total: null,
    would_load: null,
    duplicate_rows: null,
    rejected: {},
    samples: [],
    drift: [],
    verdict: 'load',
    reason: null,
  };
}

function quarantine(report: CheckReport, reason: string): CheckReport {
  report.verdict = 'quarantine';
  report.reason = reason;
  if (report.would_load !== null) report.would_load = 0;
  return report;
}

function reasonText(r: RejectReason): string {
  return `${r.rule}: ${r.message}`;
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer);
  } finally {
    destroy(stream);
  }
  return hash.digest('hex');
}
