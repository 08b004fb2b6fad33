import { cap, TextWatch, textProblemMessage, type RowReject, type TextRule } from '@sluice/formats';
import { CsvError, Parser, type Options } from 'csv-parse';
import type { CsvFormat } from '../contract';
import { recordReject, type RecordBatch, type RecordInput, type RecordLimits, type SourceRecord } from './record-batch';

/** The synchronous core of csv-parse's stream (`Parser.api`), fed one chunk at a time: no stream machinery per record. */
interface CsvApi {
  parse(buf: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
  info: { lines: number };
}

/**
 * Streams the records of a CSV file as a contract's format describes it, one batch per input chunk.
 * Fields stay text. A record with another number of fields than the header is a `wrong_field_count` reject; a
 * header that cannot name the columns, a line longer than `maxLineBytes`, or quoting csv-parse cannot follow
 * ends the file with one reject in the last batch.
 */
export async function* readCsvRecords(input: RecordInput, format: CsvFormat, limits: RecordLimits): AsyncGenerator<RecordBatch> {
  const reader = new CsvRecordReader(format, limits);
  const guard = new LineLengthGuard(limits.maxLineBytes);
  // csv-parse decodes UTF-8 leniently (U+FFFD for bytes that are not UTF-8); the watch says when records need a look.
  const watch = format.encoding === 'utf-8' ? new TextWatch() : null;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (watch) {
      watch.push(buf);
      reader.invalidUtf8 = watch.invalidUtf8;
      reader.nul = watch.nul;
    } else if (!reader.nul && buf.includes(0)) reader.nul = true;
    const tooLong = guard.check(buf);
    if (tooLong < 0) reader.feed(buf, false);
    else {
      // A line longer than maxLineBytes ends the file: the reader never holds more of it, and what follows
      // cannot be told apart from the rest of that line. The records before it are kept.
      reader.feed(buf.subarray(0, tooLong), false);
      reader.fail(recordReject(guard.line, 'line_too_long', `the line has more than ${limits.maxLineBytes} bytes (MAX_LINE_BYTES); the file is read no further`));
    }
    const batch = reader.take();
    if (batch) yield batch;
    if (reader.stopped) return;
  }
  if (watch) {
    watch.end();
    reader.invalidUtf8 = watch.invalidUtf8;
  }
  reader.feed(undefined, true);
  reader.finish();
  const batch = reader.take();
  if (batch) yield batch;
}

class CsvRecordReader {
  /** Whether the bytes read so far hold a sequence that is not UTF-8 (U+FFFD in a field is then suspect), or a NUL. */
  invalidUtf8 = false;
  nul = false;
  /** A reject that ended the file has been given. */
  stopped = false;

  private readonly api: CsvApi;
  /**
   * csv-parse counts the CR and the LF of a CRLF inside a quoted field as two lines (outside quotes, one):
   * the CRLFs it has counted twice so far, to give records the file's line numbers.
   */
  private quotedCrlfs = 0;
  private header: string[] | undefined;
  /** A batch with the header has been given. */
  private announced = false;
  private records: SourceRecord[] = [];
  private rejects: RowReject[] = [];
  private readonly push = (record: string[]) => this.onRecord(record);

  constructor(
    private readonly format: CsvFormat,
    private readonly limits: RecordLimits,
  ) {
    if (!format.header && format.columns) this.header = this.checkedHeader(format.columns, 1, 'format.columns');
    const options: Options = {
      delimiter: format.delimiter,
      quote: format.quote,
      encoding: format.encoding === 'latin1' ? 'latin1' : 'utf8',
      // In a latin1 file the bytes of a UTF-8 BOM are three characters; csv-parse would switch to UTF-8 on them.
      bom: format.encoding === 'utf-8',
      from_line: format.skipLines + 1,
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // A quoted field never closed must not be buffered to the end of the file.
      max_record_size: limits.maxLineBytes,
    };
    const api = (new Parser(options) as unknown as { api?: CsvApi }).api;
    if (typeof api?.parse !== 'function') throw new Error('csv-parse no longer exposes Parser.api; update csv-records.ts');
    this.api = api;
  }

  feed(buf: Buffer | undefined, end: boolean): void {
    if (this.stopped) return;
    const err = this.api.parse(buf, end, this.push, () => undefined);
    if (!err) return;
    const line = this.api.info.lines - this.quotedCrlfs;
    if (err instanceof CsvError && err.code === 'CSV_MAX_RECORD_SIZE') {
      this.fail(recordReject(line, 'line_too_long', `the record reaching this line has more than ${this.limits.maxLineBytes} bytes (MAX_LINE_BYTES), likely a quote (${this.format.quote}) that is never closed; the file is read no further`));
    } else if (err instanceof CsvError && err.code === 'CSV_QUOTE_NOT_CLOSED') {
      this.fail(recordReject(line, 'malformed_csv', `the file ends inside a quoted field; a quote (${this.format.quote}) opened on or before this line is never closed`));
    } else if (err instanceof CsvError) {
      this.fail(recordReject(line, 'malformed_csv', `the file is not CSV csv-parse can follow from here on (${err.message}); the file is read no further`));
    } else throw err;
  }

  /** The end of the input: a file that should have had a header and had none. */
  finish(): void {
    if (!this.stopped && !this.header && this.format.header) {
      this.fail({ line: 1, column: null, rule: 'empty_file', message: `the file has no header line${this.format.skipLines ? ` after the ${this.format.skipLines} line(s) skipped` : ''}`, value: null, raw: '' });
    }
  }

  /** Ends the file with `reject`: nothing after it is read. */
  fail(reject: RowReject): void {
    if (this.stopped) return;
    this.rejects.push(reject);
    this.stopped = true;
  }

  /**
   * The records and rejects since the last call, or null when there are none; the first batch after the
   * header is read comes even without records, so a file of only a header still shows its columns.
   */
  take(): RecordBatch | null {
    const announce = this.header !== undefined && !this.announced;
    if (!this.records.length && !this.rejects.length && !announce) return null;
    this.announced ||= announce;
    const batch: RecordBatch = { header: this.header, records: this.records, rejects: this.rejects };
    this.records = [];
    this.rejects = [];
    return batch;
  }

  private onRecord(record: string[]): void {
    if (this.stopped) return;
    // info.lines is the line the record ends on; the line breaks inside its quoted fields lead back to its start.
    const breaks = lineBreaksIn(record);
    const line = this.api.info.lines - this.quotedCrlfs - breaks.counted;
    this.quotedCrlfs += breaks.crlfs;
    if (!this.header) {
      if (this.format.header) {
        const bad = this.unstorable(record);
        if (bad) return this.fail(recordReject(line, 'invalid_header', `column ${bad.index + 1} of the header: ${this.textMessage(bad.rule, 'its name')}; the file is read no further`, this.rawOf(record)));
        this.header = this.checkedHeader(record.map((name) => name.trim()), line, 'the header');
      } else {
        // Neither a header nor format.columns: the columns are numbered, as when showing a file's columns.
        this.header = this.checkedHeader(record.map((_, i) => `column_${i + 1}`), line, 'the first record');
        this.onData(record, line);
      }
      return;
    }
    this.onData(record, line);
  }

  private onData(record: string[], line: number): void {
    if (this.stopped) return;
    const header = this.header as string[];
    if (record.length !== header.length) {
      // A line of only spaces or tabs is blank, as an empty one is (csv-parse skips those itself).
      if (record.length === 1 && record[0].trim() === '') return;
      const delimiter = this.format.delimiter === '\t' ? '\\t' : this.format.delimiter;
      this.rejects.push(
        recordReject(line, 'wrong_field_count', `the record has ${record.length} field(s) but the header has ${header.length}; check for a missing or extra "${delimiter}" or an unbalanced quote`, this.rawOf(record)),
      );
      return;
    }
    const bad = this.unstorable(record);
    if (bad) {
      const column = header[bad.index];
      this.rejects.push(recordReject(line, bad.rule, this.textMessage(bad.rule, `column "${column}"`), this.rawOf(record), column));
      return;
    }
    this.records.push({ line, values: record });
  }

  /** The first field PostgreSQL text cannot hold; U+FFFD counts when the file had bytes that are not UTF-8. */
  private unstorable(record: string[]): { index: number; rule: TextRule } | null {
    if (!this.nul && !this.invalidUtf8) return null;
    for (let i = 0; i < record.length; i++) {
      const field = record[i];
      if (field.includes('\0')) return { index: i, rule: 'invalid_character' };
      if (this.invalidUtf8 && field.includes('\uFFFD')) return { index: i, rule: 'invalid_utf8' };
    }
    return null;
  }

  private textMessage(rule: TextRule, field: string): string {
    const message = textProblemMessage(rule, field);
    // Text that is not UTF-8 is most often latin1 (Windows-1252) from a spreadsheet.
    return rule === 'invalid_utf8' ? `${message}, or give the contract's format \`encoding: latin1\` if the file is latin1` : message;
  }

  /**
   * The column names, or undefined after ending the file with the reason they cannot be used: too many, one
   * without a name, one named twice.
   */
  private checkedHeader(names: string[], line: number, what: string): string[] | undefined {
    const problem = headerProblem(names, this.limits.maxColumns, what);
    if (problem === null) return names;
    this.fail(recordReject(line, 'invalid_header', `${problem}; the file is read no further`, names.join(this.format.delimiter)));
    return undefined;
  }

  /** The record as a line of text for the row error (csv-parse does not keep the raw text cheaply). */
  private rawOf(record: string[]): string {
    const { quote, delimiter } = this.format;
    return record.map((f) => (f.includes(delimiter) || f.includes(quote) || /[\r\n]/.test(f) ? `${quote}${f.split(quote).join(quote + quote)}${quote}` : f)).join(delimiter);
  }
}

/** Why a list of column names (from `source`) cannot be a header, or null. */
function headerProblem(names: readonly string[], maxColumns: number, source: string): string | null {
  if (names.length > maxColumns) return `${source} has ${names.length} columns; a file may have at most ${maxColumns} (MAX_CSV_COLUMNS)`;
  const seen = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === '') return `column ${i + 1} of ${source} has no name; every column needs one`;
    const first = seen.get(name);
    if (first !== undefined) return `${source} names column "${cap(name, 100)}" twice (columns ${first + 1} and ${i + 1}); every column needs its own name`;
    seen.set(name, i);
  }
  return null;
}

/** Line breaks inside the fields of a record (only quoted fields hold any): as csv-parse counts them, and its CRLFs. */
function lineBreaksIn(record: string[]): { counted: number; crlfs: number } {
  let counted = 0;
  let crlfs = 0;
  for (const field of record) {
    if (field.indexOf('\n') < 0 && field.indexOf('\r') < 0) continue;
    for (let i = 0; i < field.length; i++) {
      const c = field.charCodeAt(i);
      if (c === 10 || c === 13) counted++;
      if (c === 13 && field.charCodeAt(i + 1) === 10) crlfs++;
    }
  }
  return { counted, crlfs };
}

/**
 * Follows the physical lines of a byte stream (LF, CRLF or a lone CR ends one, as csv-parse counts them) to
 * find the first longer than `maxLineBytes` before csv-parse buffers it: a line of delimiters alone would
 * otherwise become a record of millions of empty fields.
 */
class LineLengthGuard {
  /** The line being read (1-based); after `check` found one too long, that line. */
  line = 1;
  private run = 0;
  private afterCr = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Offset in `buf` where the first line too long starts (0 when it started in an earlier chunk), or -1. */
  check(buf: Buffer): number {
    let i = 0;
    let lf = buf.indexOf(10);
    let cr = buf.indexOf(13);
    for (;;) {
      if (lf >= 0 && lf < i) lf = buf.indexOf(10, i);
      if (cr >= 0 && cr < i) cr = buf.indexOf(13, i);
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      const stop = end < 0 ? buf.length : end;
      if (stop > i) {
        this.afterCr = false;
        this.run += stop - i;
        // `i` is 0 for a line that began in an earlier chunk: nothing of it is in this one before `i`.
        if (this.run > this.maxLineBytes) return i;
      }
      if (end < 0) return -1;
      // The LF of a CRLF ends the same line as its CR.
      if (buf[end] === 13 || !this.afterCr) this.line++;
      this.afterCr = buf[end] === 13;
      this.run = 0;
      i = end + 1;
    }
  }
}
