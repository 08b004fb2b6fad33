import { readingsOf, type RowsByTable } from '@sluice/contracts';
import type { LoadStage } from '@sluice/loading';
import { Counter, Histogram, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}

export const filesFinished = counter('sluice_processor_files_total', 'Files that reached a terminal state here, by status', ['status', 'kind']);
export const rowsLoaded = counter('sluice_processor_rows_loaded_total', 'Records loaded');
export const rowsRejected = counter('sluice_processor_rows_rejected_total', 'Records rejected');
export const readingsLoaded = counter('sluice_processor_readings_loaded_total', 'Sensor readings written (rows of raw_sensor_data)');
export const rowsWritten = counter('sluice_processor_rows_written_total', 'Rows written to the data tables, by table', ['table']);

/** Counts what one outcome wrote: its readings, and its rows table by table. */
export function countRowsWritten(written: RowsByTable): void {
  readingsLoaded.inc(readingsOf(written));
  for (const [table, n] of Object.entries(written)) rowsWritten.inc({ table }, n);
}
export const attemptsFailed = counter('sluice_processor_attempts_failed_total', 'Attempts that threw and will be retried');
export const fileDuration =
  (register.getSingleMetric('sluice_processor_file_seconds') as Histogram | undefined) ??
  new Histogram({
    name: 'sluice_processor_file_seconds',
    help: 'Time from start of an attempt to commit',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  });
export const ledgerFallbackFiles = counter('sluice_processor_ledger_fallback_files_total', 'Files taken straight from the ledger while JetStream delivered nothing');

/**
 * Where the single-file path's time goes, summed over files (the bench prints it): start (the attempt recorded in
 * the ledger), route (the file opened and its kind or contract found), parse (read, parsed and validated: the load
 * less the stages a loader times apart, see LoadStage), copy, aggregates, row_errors, outcome (the ledger row
 * written), commit, announce (the row read back and its outcome published; the `processing` message goes out while
 * the load runs, timed by no stage).
 */
export type ProcessorStage = 'start' | 'route' | 'parse' | LoadStage | 'outcome' | 'commit' | 'announce';
export const stageSeconds = counter('sluice_processor_stage_seconds_total', 'Seconds single-file loads spent in each stage', ['stage']);

/** Adds the time since `since` (performance.now()) to a stage. */
export function timeSince(stage: ProcessorStage, since: number): void {
  stageSeconds.inc({ stage }, (performance.now() - since) / 1000);
}
