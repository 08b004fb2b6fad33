import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateMismatches, waitFor, type Stack } from '@sluice/testing';
import { readingKey, type CsvInput, type Input, type PostInput, type Readings } from './inputs';
import { objectName, type Delivery } from './load';

interface LedgerRow {
  id: string;
  source: string;
  original_name: string;
  sha256: string;
  status: string;
  duplicate_of: string | null;
  rows_total: string;
  rows_loaded: string;
  rows_rejected: string;
  error: { rule?: string } | null;
}

/**
 * What the system must hold, computed only from the inputs the campaign generated and how each delivery went:
 * readings and measurements of every input that loaded, across all rounds so far.
 */
export class Expectation {
  readonly readings: Readings = new Map();
  readonly measurements = new Map<number, PostInput>();
  /** Content whose rows are in the tables, by sha256. */
  readonly loadedContent = new Set<string>();

  record(input: Input): void {
    if (this.loadedContent.has(input.sha256)) return;
    this.loadedContent.add(input.sha256);
    if (input.kind === 'post') this.measurements.set(input.timestampUtc, input);
    else for (const [k, v] of input.readings) this.readings.set(k, v);
  }
}

const TERMINAL = ['processed', 'duplicate', 'quarantined', 'failed'];
const q = <T>(stack: Stack, sql: string, params: unknown[] = []) => stack.query<T>(sql, params);

/** Files in a folder of the drop zone that are not the ingest-api's in-flight temp files (`.<id>.<rand>.tmp`). */
function pending(stack: Stack, folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (!e.name.startsWith('.')) out.push(`${folder}/${rel}${e.name}`);
    }
  };
  walk(join(stack.dropzone, folder), '');
  return out;
}

/** Waits until every delivered input has a terminal ledger row, no row is in flight and incoming/ and processing/ are empty. */
export async function settle(stack: Stack, deliveries: Delivery[], timeoutMs: number): Promise<string | null> {
  const names = deliveries.filter((d) => d.input.kind === 'drop' && !d.error).map((d) => d.input.name);
  const ids = deliveries.flatMap((d) => (d.rawId ? [d.rawId] : []));
  const objects = deliveries.filter((d) => d.input.kind === 's3' && !d.error);
  const objectNames = objects.map((d) => objectName(d.input.name));
  const objectShas = objects.map((d) => d.input.sha256);
  let last = '';
  try {
    await waitFor('the round to settle', async () => {
      const open = await q<{ n: string }>(stack, `SELECT count(*) AS n FROM ingest_files WHERE status <> ALL($1)`, [TERMINAL]);
      const seen = await q<{ n: string }>(stack, `SELECT count(DISTINCT original_name) AS n FROM ingest_files WHERE source = 'dropzone' AND original_name = ANY($1) AND status = ANY($2)`, [names, TERMINAL]);
      const apiSeen = await q<{ n: string }>(stack, `SELECT count(*) AS n FROM ingest_files WHERE id = ANY($1) AND status = ANY($2)`, [ids, TERMINAL]);
      const objectsSeen = await q<{ n: string }>(
        stack,
        `SELECT count(*) AS n FROM unnest($1::text[], $2::text[]) o(name, sha) WHERE EXISTS (SELECT 1 FROM ingest_files f WHERE f.source = 's3' AND f.original_name = o.name AND f.sha256 = o.sha AND f.status = ANY($3))`,
        [objectNames, objectShas, TERMINAL],
      );
      const left = [...pending(stack, 'incoming'), ...pending(stack, 'processing')];
      last =
        `${open[0].n} rows in flight, ${names.length - Number(seen[0].n)} dropped files, ${ids.length - Number(apiSeen[0].n)} accepted payloads and ` +
        `${objects.length - Number(objectsSeen[0].n)} object versions without a terminal row, left in folders: ${left.slice(0, 5).join(' ') || 'none'}`;
      return Number(open[0].n) === 0 && Number(seen[0].n) === names.length && Number(apiSeen[0].n) === ids.length && Number(objectsSeen[0].n) === objects.length && left.length === 0;
    }, timeoutMs, 250);
    return null;
  } catch {
    return `not settled after ${timeoutMs} ms: ${last}`;
  }
}

/** Every invariant of one round; returns the violations (empty when the round holds). */
export async function checkRound(stack: Stack, round: number, deliveries: Delivery[], expect: Expectation): Promise<string[]> {
  const v: string[] = [];
  const shas = [...new Set(deliveries.map((d) => d.input.sha256))];
  const ledger = await q<LedgerRow>(
    stack,
    `SELECT id, source, original_name, sha256, status, duplicate_of, rows_total, rows_loaded, rows_rejected, error FROM ingest_files WHERE sha256 = ANY($1)`,
    [shas],
  );
  const bySha = new Map<string, LedgerRow[]>();
  for (const r of ledger) bySha.set(r.sha256, [...(bySha.get(r.sha256) ?? []), r]);

  for (const d of deliveries) {
    const { input } = d;
    const rows = bySha.get(input.sha256) ?? [];
    if (d.error) v.push(`${input.name}: could not be delivered: ${d.error}`);
    if (input.kind === 'drop' && !d.error) {
      const mine = rows.filter((r) => r.source === 'dropzone' && r.original_name === input.name);
      if (mine.length !== 1) v.push(`${input.name}: ${mine.length} ledger rows for one dropped file`);
    }
    if (input.kind === 's3' && !d.error) {
      // One claim per object version (key and content), whatever became of it.
      const mine = rows.filter((r) => r.source === 's3' && r.original_name === objectName(input.name));
      if (mine.length !== 1) v.push(`${objectName(input.name)} (${input.sha256.slice(0, 8)}): ${mine.length} ledger rows for one object version`);
    }
    if (d.rawId && !rows.some((r) => r.id === d.rawId)) v.push(`${input.name}: accepted as ${d.rawId} but that ledger row is missing or holds other content`);
    for (const r of rows) if (r.status === 'failed') v.push(`${input.name}: ledger row ${r.id} failed: ${JSON.stringify(r.error)}`);
  }

  const struck = new Map(deliveries.flatMap((d) => (d.struck ? [[d.input.sha256, d.struck] as const] : [])));
  for (const input of new Map(deliveries.map((d) => [d.input.sha256, d.input])).values()) {
    const sha = input.sha256;
    const rows = bySha.get(sha) ?? [];
    const originals = rows.filter((r) => r.status !== 'duplicate');
    const how = struck.get(sha);
    if (how) {
      // Overwritten or deleted while a processor read it: loaded whole (all its bytes were read and proven) or
      // refused for what happened to it, with nothing loaded; never partly, never twice.
      const allowed = how === 'overwritten' ? ['object_changed'] : ['object_deleted', 'object_changed'];
      const processed = originals.filter((r) => r.status === 'processed');
      const refused = originals.filter((r) => r.status === 'quarantined' && allowed.includes(r.error?.rule ?? ''));
      if (processed.length + refused.length !== originals.length || processed.length > 1) {
        v.push(`${objectName(input.name)} ${how} mid-read: ${originals.map((r) => `${r.status}/${r.error?.rule ?? '-'}`).join(',')}, expected processed or ${allowed.join('|')}`);
      }
      if (processed.length === 1) expect.record(input);
      const errors = await q<{ n: string }>(stack, `SELECT count(*) AS n FROM ingest_errors WHERE file_id = ANY($1)`, [refused.map((r) => r.id)]);
      if (Number(errors[0].n)) v.push(`${objectName(input.name)}: ${errors[0].n} row errors kept for a version refused as ${how}`);
      if (processed.length === 0) continue;
    }
    const ids = new Set(rows.map((r) => r.id));
    for (const r of rows.filter((x) => x.status === 'duplicate')) {
      if (!r.duplicate_of || !ids.has(r.duplicate_of)) v.push(`${input.name}: duplicate ${r.id} names ${r.duplicate_of}, not a copy of the same content`);
    }
    const expected = input.kind === 'post' ? 'processed' : input.outcome;
    if (expected === 'processed') {
      const processed = originals.filter((r) => r.status === 'processed');
      if (rows.length > 0 && processed.length !== 1) v.push(`${input.name}: content loaded by ${processed.length} ledger rows (${originals.map((r) => r.status).join(',')})`);
    } else if (originals.some((r) => r.status !== 'quarantined' || r.error?.rule !== 'too_many_invalid_rows')) {
      v.push(`${input.name}: expected quarantined (too_many_invalid_rows), got ${originals.map((r) => `${r.status}/${r.error?.rule}`).join(',')}`);
    }
    if (rows.length > 0 && expected === 'processed') expect.record(input);
    for (const r of originals) {
      const total = input.kind === 'post' ? 1 : input.lines;
      const rejected = input.kind === 'post' ? 0 : input.badLines.length;
      if (Number(r.rows_total) !== total || Number(r.rows_rejected) !== rejected) v.push(`${input.name}: ledger ${r.id} counts total ${r.rows_total} rejected ${r.rows_rejected}, expected ${total} and ${rejected}`);
      if (r.status === 'processed' && Number(r.rows_loaded) + Number(r.rows_rejected) !== Number(r.rows_total)) v.push(`${input.name}: accepted ${r.rows_loaded} + rejected ${r.rows_rejected} ≠ total ${r.rows_total}`);
    }
    if (input.kind !== 'post' && originals.length) {
      const lines = await q<{ line: number }>(stack, `SELECT DISTINCT line FROM ingest_errors WHERE file_id = ANY($1) ORDER BY line`, [originals.map((r) => r.id)]);
      const got = lines.map((l) => Number(l.line)).join(',');
      if (got !== (input as CsvInput).badLines.join(',')) v.push(`${input.name}: row errors on lines [${got}], expected [${(input as CsvInput).badLines.join(',')}]`);
    }
  }
  await checkTables(stack, round, expect, v);
  return v;
}

/** The tables against the expectation: this round's sensors exactly, every table's count, aggregates, lineage. */
async function checkTables(stack: Stack, round: number, expect: Expectation, v: string[]): Promise<void> {
  const prefix = `r${round}-`;
  const rows = await q<{ name: string; ts: string; value: number }>(
    stack,
    `SELECT s.name, extract(epoch FROM r.ts)::bigint AS ts, r.value FROM raw_sensor_data r JOIN sensors s ON s.id = r.sensor_id WHERE starts_with(s.name, $1)`,
    [prefix],
  );
  const got = new Map(rows.map((r) => [readingKey(r.name, Number(r.ts)), r.value]));
  let lost = 0;
  let wrong = 0;
  for (const [k, value] of expect.readings) {
    if (!k.startsWith(prefix)) continue;
    if (!got.has(k)) lost++;
    else if (got.get(k) !== value) wrong++;
    got.delete(k);
  }
  if (lost) v.push(`round ${round}: ${lost} readings lost`);
  if (wrong) v.push(`round ${round}: ${wrong} readings hold another value`);
  if (got.size) v.push(`round ${round}: ${got.size} phantom readings (e.g. ${[...got.keys()].slice(0, 3).join(' ')})`);

  const [counts] = await q<{ raw: string; m: string }>(stack, `SELECT (SELECT count(*) FROM raw_sensor_data) AS raw, (SELECT count(*) FROM measurements) AS m`);
  if (Number(counts.raw) !== expect.readings.size) v.push(`raw_sensor_data holds ${counts.raw} readings, the inputs make ${expect.readings.size}`);
  if (Number(counts.m) !== expect.measurements.size) v.push(`measurements holds ${counts.m} rows, the inputs make ${expect.measurements.size}`);

  const ms = await q<{ ts: string; mean: number; std_dev: number; sample_count: number }>(
    stack,
    `SELECT extract(epoch FROM timestamp_utc)::bigint AS ts, mean, std_dev, sample_count FROM measurements WHERE timestamp_utc >= to_timestamp($1)`,
    [roundMeasurementEpoch(round)],
  );
  for (const m of ms) {
    const e = expect.measurements.get(Number(m.ts));
    if (!e) v.push(`measurement ${m.ts}: phantom`);
    else if (Math.abs(e.mean - m.mean) > 1e-9 || Math.abs(e.stdDev - m.std_dev) > 1e-9 || e.samples !== m.sample_count) v.push(`measurement ${m.ts}: mean/std/count differ`);
  }

  const mismatches = await aggregateMismatches(stack);
  if (mismatches.length) v.push(`aggregates differ from a recomputation: ${JSON.stringify(mismatches.slice(0, 2))}`);
  const [orphans] = await q<{ raw: string; m: string }>(
    stack,
    `SELECT (SELECT count(*) FROM raw_sensor_data r LEFT JOIN ingest_files f ON f.id = r.file_id WHERE f.status IS DISTINCT FROM 'processed') AS raw,
            (SELECT count(*) FROM measurements r LEFT JOIN ingest_files f ON f.id = r.file_id WHERE f.status IS DISTINCT FROM 'processed') AS m`,
  );
  if (Number(orphans.raw) || Number(orphans.m)) v.push(`ledger ≠ tables: ${orphans.raw} readings and ${orphans.m} measurements name a file that is not processed`);
}

/** Measurements of round r have timestamps from this epoch second on (one hour apart, rounds a year apart). */
export const roundMeasurementEpoch = (round: number) => 1_000_000_000 + round * 31_536_000;

/** A digest of every data table, to show a replay changed nothing. */
export async function tablesDigest(stack: Stack): Promise<string> {
  const [d] = await q<Record<string, string>>(
    stack,
    `SELECT (SELECT count(*) || ':' || coalesce(sum(hashtext(sensor_id || '|' || ts || '|' || value || '|' || file_id)), 0) FROM raw_sensor_data) AS raw,
            (SELECT count(*) || ':' || coalesce(sum(hashtext(sensor_id || '|' || bucket || '|' || bucket_start || '|' || count || '|' || min || '|' || max || '|' || round(mean::numeric, 9) || '|' || round(std_dev::numeric, 9))), 0) FROM aggregated_metrics) AS agg,
            (SELECT count(*) || ':' || coalesce(sum(hashtext(timestamp_utc || '|' || mean || '|' || std_dev || '|' || sample_count)), 0) FROM measurements) AS m,
            (SELECT count(*) FROM ingest_errors) AS errors`,
  );
  return JSON.stringify(d);
}
