import { Injectable } from '@nestjs/common';
import { addRows, type FileKind, type RejectReason } from '@sluice/contracts';
import { isConcurrentPartitionChange, rowsOf } from '@sluice/db';
import {
  microsToIso,
  readLongCsv,
  readMappingCsv,
  readWideCsv,
  SensorCsvFormatError,
  type CsvLimits,
  type LongReading,
  type MappingRow,
  type RowReject,
  type SensorCsvBatch,
  type SensorCsvOptions,
  type WideReading,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { timeStage, type KindLoader, type LoadOptions, type LoadResult } from '../kind-loader';
import { destroy, progressEvery } from '../load-stream';
import { MERGE_AGGREGATES_SQL, recomputeDaysSql, recomputeHoursSql, upsertStagedReadingsSql } from './aggregates.sql';
import { HOUR_US, HourAggregates, type Bucket } from './bucket-aggregates';
import { CopySink, isUniqueViolation } from './copy-sink';
import { writeRowErrors } from './ingest-errors.writer';
import { RAW_COPY_BINARY, ReadingTuples } from './reading-tuples';
import { RecentKeys } from './recent-keys';
import { RowTally } from './row-tally';
import { SensorRegistry, type SensorIds } from './sensor-registry';
import { InMemorySensorIds, longWarmUpFile, WARM_UP_FILE_ID, wideWarmUpFile } from './warm-up';

export type SensorCsvKind = 'sensor_wide_csv' | 'sensor_long_csv' | 'sensor_mapping_csv';
export const SENSOR_CSV_KINDS: readonly SensorCsvKind[] = ['sensor_wide_csv', 'sensor_long_csv', 'sensor_mapping_csv'];

/** The sensor loader takes the options every loader takes. */
export type SensorLoadOptions = LoadOptions;

const SAVEPOINT = 'sluice_sensor_load';
/**
 * Hour buckets held in memory before they are merged into aggregated_metrics mid-file (inside the
 * same transaction; the merge is associative, so flushing early gives the same result).
 */
export const AGG_FLUSH_BUCKETS = 20_000;
const STAGE = 'sluice_sensor_stage';
const TOUCHED = 'sluice_sensor_touched';

type Pass = { conflict: true } | { conflict: false; tally: RowTally; readings: number; rejection: RejectReason | null };

/**
 * Loads the three sensor CSV layouts inside the caller's transaction. Fast path: parse while COPYing
 * straight into raw_sensor_data inside a savepoint, de-duplicating the file's own repeats in memory and
 * aggregating hours as it goes, then one merge statement into aggregated_metrics. Slow path, only when a
 * key already exists (replay, overlapping files): roll back, COPY into a staging table, upsert, and
 * recompute the touched buckets from raw_sensor_data.
 */
@Injectable()
export class SensorCsvLoader implements KindLoader {
  readonly kinds = SENSOR_CSV_KINDS;
  private readonly sensors: SensorRegistry;

  constructor(ds: DataSource) {
    this.sensors = new SensorRegistry(ds);
  }

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (!isSensorCsvKind(kind)) throw new Error(`SensorCsvLoader cannot load ${kind}`);
    // Errors of an earlier attempt of this file are replaced by this attempt's.
    await client.query(`DELETE FROM ingest_errors WHERE file_id = $1`, [fileId]);
    await client.query(`SAVEPOINT ${SAVEPOINT}`);
    let pass: Pass;
    try {
      if (kind === 'sensor_mapping_csv') pass = await this.mappingPass(client, open, opts);
      else {
        pass = await this.fastPass(client, fileId, kind, open, opts);
        if (pass.conflict) {
          await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
          pass = await this.slowPass(client, fileId, kind, open, opts);
        }
      }
    } catch (e) {
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      if (!(e instanceof SensorCsvFormatError)) throw e;
      const r = e.reason;
      await writeRowErrors(client, fileId, [{ line: r.line ?? 1, column: r.column ?? null, rule: r.rule as RowReject['rule'], message: r.message, value: null, raw: '' }]);
      return { rowsTotal: 0, rowsLoaded: 0, rowsRejected: 0, rowsWritten: {}, rejection: r };
    }
    if (pass.conflict) throw new Error('slow path reported a conflict');
    const { tally } = pass;
    if (pass.rejection) await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    await timeStage(opts.onStage, 'row_errors', () => writeRowErrors(client, fileId, tally.errors));
    return {
      rowsTotal: tally.total,
      rowsLoaded: pass.rejection ? 0 : tally.total - tally.bad,
      rowsRejected: tally.bad,
      rowsWritten: pass.rejection ? {} : addRows({ raw_sensor_data: pass.readings }),
      rejection: pass.rejection,
    };
  }

  // ---- fast path --------------------------------------------------------------------------------------------

  private async fastPass(client: PoolClient, fileId: string, kind: 'sensor_wide_csv' | 'sensor_long_csv', open: () => NodeJS.ReadableStream, opts: SensorLoadOptions): Promise<Pass> {
    const tally = new RowTally(opts);
    const aggs = new HourAggregates();
    // Opened at the first readings, once their partitions are made.
    let copy: CopySink | null = null;
    let readings = 0;
    const tuples = new ReadingTuples(fileId);
    const progress = progressEvery(opts.onProgress);
    const sink = () => new CopySink(client, RAW_COPY_BINARY, { binary: true, onWait: opts.onStage && ((ms) => opts.onStage?.('copy', ms)) });
    const merge = () => timeStage(opts.onStage, 'aggregates', () => mergeAggregates(client, aggs));
    const stream = open();
    try {
      const step = kind === 'sensor_wide_csv' ? this.wideFast(readWideCsv(stream, parseOptions(opts)), aggs, tuples, this.sensors) : this.longFast(readLongCsv(stream, parseOptions(opts)), aggs, tuples, this.sensors);
      for await (const out of step) {
        if (out === 'conflict') {
          await copy?.abort('same key with a different value within the file');
          return { conflict: true };
        }
        tally.addRows(out.rows);
        if (tally.addRejects(out.rejects)) {
          await copy?.abort('file refused');
          return { conflict: false, tally, readings: 0, rejection: tally.rejection() };
        }
        progress(out.rows + out.rejects.length);
        if (!out.tuples.length) continue;
        if (!copy) {
          await opts.beforeCopy?.('raw_sensor_data', out.minMicros, out.maxMicros);
          copy = sink();
        }
        await copy.write(out.tuples);
        if (aggs.size >= (opts.aggFlushBuckets ?? AGG_FLUSH_BUCKETS)) {
          // Keeps memory flat for files spanning many sensor-hours: the COPY so far is ended, its
          // buckets merged (rolled back with the savepoint if the file is refused later), and a new COPY goes on.
          readings += await copy.end();
          await merge();
          aggs.clear();
          copy = sink();
        }
      }
      if (copy) readings += await copy.end();
      const rejection = tally.rejection();
      if (!rejection) await merge();
      return { conflict: false, tally, readings, rejection };
    } catch (e) {
      // A key already loaded, or a partition made while this COPY ran: the slow path's statements see both.
      if (isUniqueViolation(e) || isConcurrentPartitionChange(e)) return { conflict: true };
      await copy?.abort('load failed');
      throw e;
    } finally {
      destroy(stream);
    }
  }

  /** Per input batch: COPY tuples of new readings, aggregates updated; 'conflict' on a same-key-other-value repeat. */
  private async *wideFast(batches: AsyncGenerator<SensorCsvBatch<WideReading>>, aggs: HourAggregates, tuples: ReadingTuples, sensors: SensorIds): AsyncGenerator<FastBatchOut | 'conflict'> {
    let seen: RecentKeys | null = null;
    let ids = new Map<string, Int32Array>();
    for await (const batch of batches) {
      const { metrics } = batch.header;
      const m = metrics.length;
      seen ??= new RecentKeys(m);
      // Buckets are cached per metric within one batch only: between batches the map may be flushed.
      const cache = new Array<Bucket | null>(m).fill(null);
      const unknown = [...new Set(batch.rows.filter((r) => !ids.has(r.device)).map((r) => r.device))];
      if (unknown.length) {
        await sensors.resolveWide(unknown, metrics);
        if (ids.size > 100_000) ids = new Map();
        for (const d of unknown) ids.set(d, Int32Array.from(metrics, (mt) => sensors.cachedName(`${d}/${mt}`) as number));
      }
      tuples.reserve(batch.rows.length * m);
      for (const r of batch.rows) {
        const sid = ids.get(r.device) as Int32Array;
        // The first metric's sensor id stands for the device.
        const seenAs = seen.check(sid[0], r.tsMicros, r.values);
        if (seenAs === 'same') continue;
        if (seenAs === 'different') {
          yield 'conflict';
          return;
        }
        const hour = Math.floor(r.tsMicros / HOUR_US);
        for (let j = 0; j < m; j++) {
          const v = r.values[j];
          tuples.add(sid[j], r.tsMicros, v);
          let b = cache[j];
          if (b === null || b.index !== hour || b.sensorId !== sid[j]) b = cache[j] = aggs.bucket(sid[j], hour);
          b.add(v);
        }
      }
      yield { rows: batch.rows.length, rejects: batch.rejects, tuples: tuples.take(), ...timeSpan(batch.rows) };
    }
  }

  private async *longFast(batches: AsyncGenerator<SensorCsvBatch<LongReading>>, aggs: HourAggregates, tuples: ReadingTuples, sensors: SensorIds): AsyncGenerator<FastBatchOut | 'conflict'> {
    const seen = new RecentKeys(1);
    const one = new Float64Array(1);
    for await (const batch of batches) {
      await sensors.resolveUuids(batch.rows.map((r) => r.uuid));
      tuples.reserve(batch.rows.length);
      for (const r of batch.rows) {
        const sid = sensors.cachedUuid(r.uuid) as number;
        one[0] = r.value;
        const seenAs = seen.check(sid, r.tsMicros, one);
        if (seenAs === 'same') continue;
        if (seenAs === 'different') {
          yield 'conflict';
          return;
        }
        tuples.add(sid, r.tsMicros, r.value);
        aggs.bucket(sid, Math.floor(r.tsMicros / HOUR_US)).add(r.value);
      }
      yield { rows: batch.rows.length, rejects: batch.rejects, tuples: tuples.take(), ...timeSpan(batch.rows) };
    }
  }

  /**
   * The fast pass's parsing, checks, COPY encoding and hour aggregates (up to the merge statement's parameters)
   * over a generated wide and long file of the last hours, with sensor ids numbered in memory: no database is
   * touched. Returns the lines gone through.
   */
  async warmUp(opts: LoadOptions): Promise<number> {
    let lines = 0;
    const pass = async (step: (aggs: HourAggregates, tuples: ReadingTuples, ids: SensorIds) => AsyncGenerator<FastBatchOut | 'conflict'>) => {
      const aggs = new HourAggregates();
      for await (const out of step(aggs, new ReadingTuples(WARM_UP_FILE_ID), new InMemorySensorIds())) {
        if (out === 'conflict') throw new Error('the warm-up file repeats a key with a different value');
        lines += out.rows + out.rejects.length;
      }
      aggs.toMergeRows().params();
    };
    const now = Date.now();
    await pass((aggs, tuples, ids) => this.wideFast(readWideCsv(wideWarmUpFile(now), parseOptions(opts)), aggs, tuples, ids));
    await pass((aggs, tuples, ids) => this.longFast(readLongCsv(longWarmUpFile(now), parseOptions(opts)), aggs, tuples, ids));
    return lines;
  }

  // ---- slow path --------------------------------------------------------------------------------------------

  private async slowPass(client: PoolClient, fileId: string, kind: 'sensor_wide_csv' | 'sensor_long_csv', open: () => NodeJS.ReadableStream, opts: SensorLoadOptions): Promise<Pass> {
    const tally = new RowTally(opts);
    const progress = progressEvery(opts.onProgress);
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (sensor_id int NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, line int NOT NULL) ON COMMIT DROP`);
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED} (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
    await client.query(`TRUNCATE ${STAGE}, ${TOUCHED}`);
    const copy = new CopySink(client, `COPY ${STAGE} (sensor_id, ts, value, line) FROM STDIN`);
    const stream = open();
    try {
      const batches = kind === 'sensor_wide_csv' ? this.wideStage(readWideCsv(stream, parseOptions(opts))) : this.longStage(readLongCsv(stream, parseOptions(opts)));
      for await (const out of batches) {
        tally.addRows(out.rows);
        if (tally.addRejects(out.rejects)) {
          await copy.abort('file refused');
          return { conflict: false, tally, readings: 0, rejection: tally.rejection() };
        }
        progress(out.rows + out.rejects.length);
        await copy.write(out.text);
      }
      await copy.end();
    } catch (e) {
      await copy.abort('load failed');
      throw e;
    } finally {
      destroy(stream);
    }
    const rejection = tally.rejection();
    if (rejection) return { conflict: false, tally, readings: 0, rejection };
    // Later lines win within the file; a stored key changes only when its value differs.
    const res = await client.query(
      upsertStagedReadingsSql(STAGE, TOUCHED),
      [fileId],
    );
    const readings = rowsOf<{ n: number }>(res)[0]?.n ?? 0;
    if (readings > 0) {
      await client.query(recomputeHoursSql(TOUCHED));
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TOUCHED}_day (sensor_id int NOT NULL, start timestamptz NOT NULL) ON COMMIT DROP`);
      await client.query(`TRUNCATE ${TOUCHED}_day`);
      await client.query(`INSERT INTO ${TOUCHED}_day SELECT DISTINCT sensor_id, date_trunc('day', start, 'UTC') FROM ${TOUCHED}`);
      await client.query(recomputeDaysSql(`${TOUCHED}_day`));
    }
    return { conflict: false, tally, readings, rejection: null };
  }

  private async *wideStage(batches: AsyncGenerator<SensorCsvBatch<WideReading>>): AsyncGenerator<BatchOut> {
    for await (const batch of batches) {
      const { metrics } = batch.header;
      await this.sensors.resolveWide([...new Set(batch.rows.map((r) => r.device))], metrics);
      let text = '';
      for (const r of batch.rows) {
        const ts = microsToIso(r.tsMicros);
        for (let j = 0; j < metrics.length; j++) {
          text += `${this.sensors.cachedName(`${r.device}/${metrics[j]}`) as number}\t${ts}\t${r.values[j]}\t${r.line}\n`;
        }
      }
      yield { rows: batch.rows.length, rejects: batch.rejects, text };
    }
  }

  private async *longStage(batches: AsyncGenerator<SensorCsvBatch<LongReading>>): AsyncGenerator<BatchOut> {
    for await (const batch of batches) {
      await this.sensors.resolveUuids(batch.rows.map((r) => r.uuid));
      let text = '';
      for (const r of batch.rows) text += `${this.sensors.cachedUuid(r.uuid) as number}\t${microsToIso(r.tsMicros)}\t${r.value}\t${r.line}\n`;
      yield { rows: batch.rows.length, rejects: batch.rejects, text };
    }
  }

  // ---- mapping ----------------------------------------------------------------------------------------------

  /**
   * Names UUID sensors inside the transaction. A later mapping renames; ids never change, so readings
   * stored before the mapping arrived get the name too. A name already used by a sensor outside this
   * mapping is refused for that line.
   */
  private async mappingPass(client: PoolClient, open: () => NodeJS.ReadableStream, opts: SensorLoadOptions): Promise<Pass> {
    const tally = new RowTally(opts);
    const progress = progressEvery(opts.onProgress);
    const byUuid = new Map<string, MappingRow>();
    const stream = open();
    try {
      for await (const batch of readMappingCsv(stream, csvLimits(opts))) {
        tally.addRows(batch.rows.length);
        if (tally.addRejects(batch.rejects)) return { conflict: false, tally, readings: 0, rejection: tally.rejection() };
        for (const r of batch.rows) byUuid.set(r.uuid, r); // a later line for the same UUID wins
        progress(batch.rows.length + batch.rejects.length);
      }
    } finally {
      destroy(stream);
    }
    // Two UUIDs given one name: the later line is refused.
    const byName = new Map<string, MappingRow>();
    const dupes: RowReject[] = [];
    for (const r of [...byUuid.values()].sort((a, b) => a.line - b.line)) {
      const first = byName.get(r.name);
      if (first) dupes.push(nameReject(r, `sensor_name "${r.name}" is already given to ${first.uuid} on line ${first.line}`));
      else byName.set(r.name, r);
    }
    let rows = [...byName.values()].sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    const uuids = rows.map((r) => r.uuid);
    const names = rows.map((r) => r.name);
    const taken = rowsOf<{ name: string }>(
      await client.query(
        `SELECT s.name FROM sensors s WHERE s.name = ANY($2::text[]) AND (s.uuid IS NULL OR NOT (s.uuid = ANY($1::uuid[])))`,
        [uuids, names],
      ),
    );
    if (taken.length) {
      const takenSet = new Set(taken.map((t) => t.name));
      for (const r of rows) if (takenSet.has(r.name)) dupes.push(nameReject(r, `sensor_name "${r.name}" already names another sensor`));
      rows = rows.filter((r) => !takenSet.has(r.name));
    }
    dupes.sort((a, b) => a.line - b.line);
    tally.addRows(-dupes.length); // counted as rows above; now counted as rejects
    if (tally.addRejects(dupes)) return { conflict: false, tally, readings: 0, rejection: tally.rejection() };
    if (tally.rejection()) return { conflict: false, tally, readings: 0, rejection: tally.rejection() };
    if (rows.length) {
      const params = [rows.map((r) => r.uuid), rows.map((r) => r.name)];
      // Renamed sensors first step aside to their UUID as name, so names can move between them (swaps).
      await client.query(
        `UPDATE sensors s SET name = s.uuid::text FROM unnest($1::uuid[], $2::text[]) m(u, n)
         WHERE s.uuid = m.u AND s.name <> m.n AND s.name <> s.uuid::text`,
        params,
      );
      await client.query(
        `INSERT INTO sensors (uuid, name) SELECT * FROM unnest($1::uuid[], $2::text[])
         ON CONFLICT (uuid) DO UPDATE SET name = excluded.name WHERE sensors.name IS DISTINCT FROM excluded.name`,
        params,
      );
    }
    return { conflict: false, tally, readings: 0, rejection: null };
  }
}

/** A slow-path batch: its lines counted, its refused lines, COPY text of its readings for the staging table. */
interface BatchOut {
  rows: number;
  rejects: RowReject[];
  text: string;
}

/**
 * A fast-path batch: its lines counted, its refused lines, binary COPY tuples of its new readings, and their time
 * range (µs, inclusive) for the partitions they need.
 */
interface FastBatchOut {
  rows: number;
  rejects: RowReject[];
  tuples: Buffer;
  minMicros: number;
  maxMicros: number;
}

function timeSpan(rows: readonly { tsMicros: number }[]): { minMicros: number; maxMicros: number } {
  let minMicros = Infinity;
  let maxMicros = -Infinity;
  for (const r of rows) {
    if (r.tsMicros < minMicros) minMicros = r.tsMicros;
    if (r.tsMicros > maxMicros) maxMicros = r.tsMicros;
  }
  return { minMicros, maxMicros };
}

function nameReject(r: MappingRow, why: string): RowReject {
  return { line: r.line, column: 'sensor_name', rule: 'duplicate_sensor_name', message: `line ${r.line}: ${why}`, value: r.name, raw: `${r.uuid};${r.name}` };
}

function isSensorCsvKind(kind: FileKind): kind is SensorCsvKind {
  return (SENSOR_CSV_KINDS as readonly FileKind[]).includes(kind);
}

function parseOptions(opts: SensorLoadOptions): SensorCsvOptions {
  return { ranges: opts.ranges, naiveTimeZone: opts.naiveTimeZone, notBeforeMicros: opts.notBefore?.rawMicros, ...csvLimits(opts) };
}

function csvLimits(opts: SensorLoadOptions): CsvLimits {
  return { maxColumns: opts.maxCsvColumns, maxHeaderBytes: opts.maxLineBytes };
}

async function mergeAggregates(client: PoolClient, aggs: HourAggregates): Promise<void> {
  if (aggs.size === 0) return;
  const rows = aggs.toMergeRows();
  await client.query(MERGE_AGGREGATES_SQL, rows.params());
}
