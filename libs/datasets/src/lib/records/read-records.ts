import { cap, VALUE_CAP, type RowReject } from '@sluice/formats';
import type { ContractFormat } from '../contract';
import { readCsvRecords } from './csv-records';
import { readJsonRecords, readNdjsonRecords } from './json-records';
import { recordReject, type RecordBatch, type RecordInput, type RecordLimits, type SourceRecord } from './record-batch';

/**
 * Streams the records of a file as `format` describes it, in batches of about one input chunk, so a file of
 * any size is read in bounded memory. Values are not converted: CSV fields stay text, JSON values stay as
 * parsed. Records that cannot be read are rejects with their line; the file goes on unless the reject says
 * it is read no further (then it is the last of the last batch).
 */
export function readRecords(input: RecordInput, format: ContractFormat, limits: RecordLimits): AsyncGenerator<RecordBatch> {
  switch (format.type) {
    case 'csv':
      return readCsvRecords(input, format, limits);
    case 'ndjson':
      return format.lineKind === undefined ? readNdjsonRecords(input, limits) : ofOneKind(readNdjsonRecords(input, limits), format.lineKind);
    case 'json':
      return readJsonRecords(input, format, limits);
  }
}

/**
 * The lines of a body taken by the `kind` they name: up to the first line naming another kind (or none), which
 * ends the body as `mixed_kinds`, since one body goes to one contract.
 */
async function* ofOneKind(batches: AsyncGenerator<RecordBatch>, kind: string): AsyncGenerator<RecordBatch> {
  for await (const batch of batches) {
    const stray = batch.records.find((r) => (r.values as Record<string, unknown>)['kind'] !== kind);
    if (!stray) {
      yield batch;
      continue;
    }
    const named = (stray.values as Record<string, unknown>)['kind'];
    const what = named === undefined ? 'names no kind' : `names the kind ${cap(JSON.stringify(named) ?? '', VALUE_CAP)}`;
    const reject = recordReject(stray.line, 'mixed_kinds', `the line ${what}, but the body is of kind "${kind}" (its first line); one body is of one kind, send each kind in a body of its own`, JSON.stringify(stray.values), 'kind');
    yield { records: batch.records.filter((r) => r.line < stray.line), rejects: [...batch.rejects.filter((r) => r.line < stray.line), reject] };
    return;
  }
}

/** The first records of a file, to infer a contract from it or show its columns. */
export interface RecordSample {
  /** CSV: the column names; JSON/NDJSON: undefined (see `recordColumns`). */
  header?: string[];
  records: SourceRecord[];
  /** The rejects met on the way, at most as many as records asked for. */
  rejects: RowReject[];
  /** The file has more records (or rejects) than were taken. */
  truncated: boolean;
}

/**
 * Reads the first `maxRecords` records of a file (and at most as many rejects), then stops reading and
 * closes the input.
 */
export async function sampleRecords(input: RecordInput, format: ContractFormat, limits: RecordLimits, maxRecords: number): Promise<RecordSample> {
  const sample: RecordSample = { records: [], rejects: [], truncated: false };
  // Leaving the loop early returns the generator, which returns (and so destroys) the input's iterator.
  for await (const batch of readRecords(input, format, limits)) {
    if (batch.header) sample.header = batch.header;
    const recordRoom = maxRecords - sample.records.length;
    const rejectRoom = maxRecords - sample.rejects.length;
    sample.records.push(...batch.records.slice(0, recordRoom));
    sample.rejects.push(...batch.rejects.slice(0, rejectRoom));
    if (batch.records.length > recordRoom || batch.rejects.length > rejectRoom || (recordRoom === 0 && batch.records.length + batch.rejects.length > 0)) {
      sample.truncated = true;
      break;
    }
  }
  return sample;
}
