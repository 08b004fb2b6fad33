import type { RejectReason } from '@sluice/contracts';
import { Parser, type Options } from 'csv-parse';
import { LeadingBlankLines } from '../csv/blank-lines.util';
import type { RowReject } from '../reject/row-reject';
import { decodeMarked, storable, TextWatch, textProblemMessage, type TextRule } from '../text/storable-text.util';
import { DEFAULT_MAX_CSV_COLUMNS, readSensorHeader, type SensorCsvHeader, type SensorCsvKind } from './sensor-csv.header';
import {
  cap,
  epochProblem,
  lateProblem,
  isoProblem,
  isUuid,
  parseDecimal,
  parseIsoTimestamp,
  magnitudeProblem,
  MAX_ABS_VALUE,
  parseWideValue,
  parseWideTimestamp,
  parseDecimalComma,
  rangeProblem,
  RAW_CAP,
  charLength,
  SENSOR_NAME_MAX,
  sensorNameProblem,
  uuidProblem,
  valueProblem,
  VALUE_CAP,
  type FieldProblem,
  type LongReading,
  type MappingRow,
  type ValueRanges,
  type WideReading,
} from './sensor-record';
import { ZonedTime } from './zoned-time.util';

export interface SensorCsvOptions extends CsvLimits {
  /** Valid range per metric (wide CSV); metrics without one are unbounded. */
  ranges: ValueRanges;
  /** IANA zone for naive timestamps (long CSV). */
  naiveTimeZone: string;
  /** Readings older than this (µs since the epoch; now minus RAW_RETENTION) are refused, rule late_beyond_retention. */
  notBeforeMicros?: number;
}

export interface CsvLimits {
  /** Most header columns (MAX_CSV_COLUMNS). */
  maxColumns?: number;
  /** Longest header line in bytes (MAX_LINE_BYTES); the header is read whole up to it. */
  maxHeaderBytes?: number;
}

/** What one input chunk yielded: good records and refused lines, in line order within each list. */
export interface SensorCsvBatch<T> {
  header: SensorCsvHeader;
  rows: T[];
  rejects: RowReject[];
}

/** The whole file is unusable (bad header, broken quoting): quarantine it with this reason. */
export class SensorCsvFormatError extends Error {
  constructor(readonly reason: RejectReason) {
    super(reason.message);
    this.name = 'SensorCsvFormatError';
  }
}

type Input = AsyncIterable<Buffer | string> | NodeJS.ReadableStream;

/** Streams a wide CSV (`ts,device,<metrics…>`): one reading per metric per line. */
export function readWideCsv(input: Input, opts: SensorCsvOptions): AsyncGenerator<SensorCsvBatch<WideReading>> {
  return readBatches(input, 'sensor_wide_csv', opts, (h, sink: Sink<WideReading>) => wideHandler(h, opts, sink));
}

/** Streams a long CSV (`[index;]timestamp;sensor_uuid;sensor_value`). */
export function readLongCsv(input: Input, opts: SensorCsvOptions): AsyncGenerator<SensorCsvBatch<LongReading>> {
  return readBatches(input, 'sensor_long_csv', opts, (h, sink: Sink<LongReading>) => longHandler(h, opts, sink));
}

/** Streams a sensor mapping CSV (`sensor_uuid;sensor_name`). */
export function readMappingCsv(input: Input, limits: CsvLimits = {}): AsyncGenerator<SensorCsvBatch<MappingRow>> {
  return readBatches(input, 'sensor_mapping_csv', limits, (h, sink: Sink<MappingRow>) => mappingHandler(h, sink));
}

interface Sink<T> {
  rows: T[];
  rejects: RowReject[];
}
type RecordHandler = (record: string[], line: number) => void;

/** The synchronous core of csv-parse's stream (`Parser.api`): no stream machinery per record. */
interface CsvApi {
  parse(buf: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
  info: { lines: number };
}

/** Longest header line by default, in bytes (MAX_LINE_BYTES). */
const DEFAULT_MAX_HEADER_BYTES = 1 << 20;
/** Longest CSV record accepted, in characters; a longer one makes the file malformed_csv. */
export const MAX_RECORD_CHARS = 1 << 20;

async function* readBatches<T>(input: Input, kind: SensorCsvKind, limits: CsvLimits, makeHandler: (h: SensorCsvHeader, sink: Sink<T>) => RecordHandler): AsyncGenerator<SensorCsvBatch<T>> {
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const sink: Sink<T> = { rows: [], rejects: [] };
  // csv-parse decodes leniently (U+FFFD for bytes that are not UTF-8); the watch says when records need a look.
  const watch = new TextWatch();
  let header: SensorCsvHeader | null = null;
  let api: CsvApi | null = null;
  let handle: RecordHandler = () => undefined;
  let seenHeaderRecord = false;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  // Blank lines before the header say nothing; records keep the file's line numbers.
  const blank = new LeadingBlankLines(maxHeaderBytes);
  const lineOf = (parsed: number) => parsed + blank.lines;

  const push = (record: string[]) => {
    if (!seenHeaderRecord) {
      seenHeaderRecord = true;
      return;
    }
    const line = lineOf((api as CsvApi).info.lines);
    if (watch.nul || watch.invalidUtf8) {
      const bad = textProblemOf(record, watch.invalidUtf8);
      if (bad) {
        const h = header as SensorCsvHeader;
        const column = h.columns[bad.index] ?? null;
        return reject(sink, h, record, line, column, { rule: bad.rule, message: textProblemMessage(bad.rule, column ?? `field ${bad.index + 1}`) }, storable(record[bad.index]));
      }
    }
    handle(record, line);
  };
  const feed = (buf: Buffer | undefined, end: boolean) => {
    const err = (api as CsvApi).parse(buf, end, push, () => undefined);
    if (err) {
      throw new SensorCsvFormatError({ rule: 'malformed_csv', message: `the file is not well-formed CSV: ${err.message}`, line: lineOf((api as CsvApi).info.lines) });
    }
  };
  const start = () => {
    const head = Buffer.concat(pending);
    const nl = lineBreakAt(head);
    // CRLF and the line break do not count; a header is never read in part.
    if ((nl < 0 ? head.length : nl) > maxHeaderBytes + 1) {
      throw new SensorCsvFormatError({ rule: 'invalid_header', message: `the header line is longer than ${maxHeaderBytes} bytes (MAX_LINE_BYTES)`, line: lineOf(1) });
    }
    const text = decodeMarked(head);
    const h = readSensorHeader(text, limits.maxColumns ?? DEFAULT_MAX_CSV_COLUMNS);
    if (h === null || typeof h === 'string' || h.kind !== kind) {
      const why = typeof h === 'string' ? h : `the header "${cap(text.split(/\r\n?|\n/)[0] ?? '', 200)}" is not a ${kind.replace(/_/g, ' ')} header`;
      throw new SensorCsvFormatError({ rule: 'invalid_header', message: why, line: lineOf(1) });
    }
    header = h;
    handle = makeHandler(h, sink);
    // max_record_size: a line without end (or a quote never closed) must not be buffered whole.
    const options: Options = { delimiter: h.delimiter, bom: true, relax_quotes: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_RECORD_CHARS };
    api = (new Parser(options) as unknown as { api: CsvApi }).api;
    if (typeof api?.parse !== 'function') throw new Error('csv-parse no longer exposes Parser.api; update sensor-csv.parser.ts');
    pending.length = 0;
    feed(head, false);
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    watch.push(buf);
    if (!api) {
      const content = blank.done ? buf : blank.take(buf);
      if (content === null) continue;
      pending.push(content);
      pendingBytes += content.length;
      if (lineBreakAt(content) >= 0 || pendingBytes > maxHeaderBytes + 2) start();
    } else feed(buf, false);
    if (header && (sink.rows.length || sink.rejects.length)) {
      yield { header, rows: sink.rows, rejects: sink.rejects };
      sink.rows = [];
      sink.rejects = [];
    }
  }
  if (!api) {
    if (pendingBytes === 0 || Buffer.concat(pending).toString('utf8').trim() === '') {
      throw new SensorCsvFormatError({ rule: 'empty_file', message: 'the file is empty (or holds only whitespace)' });
    }
    start();
  }
  watch.end();
  feed(undefined, true);
  if (header && (sink.rows.length || sink.rejects.length)) yield { header, rows: sink.rows, rejects: sink.rejects };
}

/** Offset of the first line break (LF or CR, csv-parse reads either), or -1. */
function lineBreakAt(buf: Buffer): number {
  const lf = buf.indexOf(10);
  const cr = buf.indexOf(13);
  return cr < 0 ? lf : lf < 0 ? cr : Math.min(lf, cr);
}

/** The first field of a record whose text PostgreSQL cannot store; U+FFFD counts when the file had bytes that are not UTF-8. */
function textProblemOf(record: string[], invalidUtf8: boolean): { index: number; rule: TextRule } | null {
  for (let i = 0; i < record.length; i++) {
    const f = record[i];
    if (f.includes('\0')) return { index: i, rule: 'invalid_character' };
    if (invalidUtf8 && f.includes('\uFFFD')) return { index: i, rule: 'invalid_utf8' };
  }
  return null;
}

/** The refused line as text, quoted like the header was (csv-parse does not keep raw text cheaply). */
function rawLine(record: string[], h: SensorCsvHeader): string {
  const text = h.quoted ? record.map((f) => `"${f.replace(/"/g, '""')}"`).join(h.delimiter) : record.join(h.delimiter);
  return cap(text, RAW_CAP);
}

function reject(sink: Sink<unknown>, h: SensorCsvHeader, record: string[], line: number, column: string | null, p: FieldProblem, value: string | null): void {
  sink.rejects.push({ line, column, rule: p.rule, message: `line ${line}: ${p.message}`, value: value === null ? null : cap(value, VALUE_CAP), raw: rawLine(record, h) });
}

function fieldCountProblem(h: SensorCsvHeader, got: number): FieldProblem {
  return { rule: 'wrong_field_count', message: `has ${got} field(s) but the header has ${h.columns.length}; check for a missing or extra "${h.delimiter === '\t' ? '\\t' : h.delimiter}"` };
}

function wideHandler(h: SensorCsvHeader, opts: SensorCsvOptions, sink: Sink<WideReading>): RecordHandler {
  const width = h.columns.length;
  const tsCol = h.columns[h.tsIndex];
  const devCol = h.columns[h.deviceIndex];
  const m = h.metrics.length;
  const idx = h.metricIndexes;
  // Beyond MAX_ABS_VALUE statistics could overflow, whatever METRIC_RANGES says.
  const lo = h.metrics.map((name) => Math.max(opts.ranges[name]?.min ?? -Infinity, -MAX_ABS_VALUE));
  const hi = h.metrics.map((name) => Math.min(opts.ranges[name]?.max ?? Infinity, MAX_ABS_VALUE));
  // The longest sensor name a line makes is its device, "/" and the longest metric: one check per line.
  const longest = h.metrics.reduce((a, b) => (charLength(b) > charLength(a) ? b : a), '');
  const deviceRoom = SENSOR_NAME_MAX - 1 - charLength(longest);
  const zone = new ZonedTime(opts.naiveTimeZone);
  const notBefore = opts.notBeforeMicros ?? -Infinity;
  // With `;` or tabs between fields, `21,5` can only mean 21.5.
  const decimalComma = h.delimiter !== ',';
  return (rec, line) => {
    if (rec.length !== width) return reject(sink, h, rec, line, null, fieldCountProblem(h, rec.length), null);
    const tsText = rec[h.tsIndex];
    const us = parseWideTimestamp(tsText, zone);
    if (Number.isNaN(us)) return reject(sink, h, rec, line, tsCol, epochProblem(tsText, tsCol), tsText);
    if (us < notBefore) return reject(sink, h, rec, line, tsCol, lateProblem(tsCol, us, notBefore, 'RAW_RETENTION'), tsText);
    const device = rec[h.deviceIndex];
    if (device === '') return reject(sink, h, rec, line, devCol, { rule: 'missing_value', message: `${devCol} is empty; every reading needs a device` }, device);
    if (device.length > deviceRoom) {
      const tooLong = sensorNameProblem(`${device}/${longest}`, `${devCol} makes the sensor name`);
      if (tooLong) return reject(sink, h, rec, line, devCol, tooLong, device);
    }
    const values = new Array<number>(m);
    for (let j = 0; j < m; j++) {
      const text = rec[idx[j]];
      let v = parseWideValue(text);
      if (v !== v && decimalComma) v = parseDecimalComma(text);
      if (v !== v) return reject(sink, h, rec, line, h.metrics[j], valueProblem(text, h.metrics[j]), text);
      if (v < lo[j] || v > hi[j]) {
        const metric = h.metrics[j];
        const problem = magnitudeProblem(v, metric) ?? (rangeProblem(v, metric, opts.ranges[metric]) as FieldProblem);
        return reject(sink, h, rec, line, metric, problem, text);
      }
      values[j] = v;
    }
    sink.rows.push({ line, tsMicros: us, device, values });
  };
}

function longHandler(h: SensorCsvHeader, opts: SensorCsvOptions, sink: Sink<LongReading>): RecordHandler {
  const width = h.columns.length;
  const zone = new ZonedTime(opts.naiveTimeZone);
  const notBefore = opts.notBeforeMicros ?? -Infinity;
  const [tsCol, uuidCol, valueCol] = [h.columns[h.tsIndex], h.columns[h.uuidIndex], h.columns[h.valueIndex]];
  const decimalComma = h.delimiter !== ',';
  return (rec, line) => {
    if (rec.length !== width) return reject(sink, h, rec, line, null, fieldCountProblem(h, rec.length), null);
    const tsText = rec[h.tsIndex];
    const us = parseIsoTimestamp(tsText, zone);
    if (Number.isNaN(us)) return reject(sink, h, rec, line, tsCol, isoProblem(tsText, tsCol), tsText);
    if (us < notBefore) return reject(sink, h, rec, line, tsCol, lateProblem(tsCol, us, notBefore, 'RAW_RETENTION'), tsText);
    const uuid = rec[h.uuidIndex];
    if (!isUuid(uuid)) return reject(sink, h, rec, line, uuidCol, uuidProblem(uuid, uuidCol), uuid);
    const text = rec[h.valueIndex];
    let value = parseDecimal(text);
    if (value !== value && decimalComma) value = parseDecimalComma(text);
    if (value !== value) return reject(sink, h, rec, line, valueCol, valueProblem(text, valueCol), text);
    const huge = magnitudeProblem(value, valueCol);
    if (huge) return reject(sink, h, rec, line, valueCol, huge, text);
    sink.rows.push({ line, tsMicros: us, uuid: uuid.toLowerCase(), value });
  };
}

function mappingHandler(h: SensorCsvHeader, sink: Sink<MappingRow>): RecordHandler {
  const width = h.columns.length;
  const [uuidCol, nameCol] = [h.columns[h.uuidIndex], h.columns[h.nameIndex]];
  return (rec, line) => {
    if (rec.length !== width) return reject(sink, h, rec, line, null, fieldCountProblem(h, rec.length), null);
    const uuid = rec[h.uuidIndex].trim();
    if (!isUuid(uuid)) return reject(sink, h, rec, line, uuidCol, uuidProblem(uuid, uuidCol), uuid);
    const name = rec[h.nameIndex].trim();
    if (name === '') return reject(sink, h, rec, line, nameCol, { rule: 'missing_value', message: `${nameCol} is empty; a mapping needs a sensor name` }, name);
    const tooLong = sensorNameProblem(name, nameCol);
    if (tooLong) return reject(sink, h, rec, line, nameCol, tooLong, name);
    sink.rows.push({ line, uuid: uuid.toLowerCase(), name });
  };
}
