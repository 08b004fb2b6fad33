import { CsvWriter } from '@sluice/formats';
import { Transform, type TransformCallback } from 'node:stream';

export type ExportFormat = 'csv' | 'ndjson';

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

/** A row as the export cursor returns it (rowMode 'array'): ts text (UTC, µs), value, file id. */
export type ExportRow = [ts: string, value: number, fileId: string];

const MEDIA: Record<string, ExportFormat | 'json'> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/json': 'json',
  '*/*': 'json',
  'application/*': 'json',
};

/**
 * The export format an Accept header asks for, or null for the JSON page. The media type with the
 * highest q wins; on a tie the one listed first. Anything we do not serve is ignored.
 */
export function exportFormatFor(accept: string | undefined): ExportFormat | null {
  if (!accept) return null;
  let best: { format: ExportFormat | 'json'; q: number } | null = null;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const format = MEDIA[type];
    if (!format) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { format, q };
  }
  return best && best.format !== 'json' ? best.format : null;
}

/** How every CSV export writes its cells: `neutraliseFormulas` is CSV_FORMULA_ESCAPE. */
export interface CsvExportOptions {
  neutraliseFormulas: boolean;
}

const READINGS_CSV_COLUMNS = [
  { name: 'ts', kind: 'text' },
  { name: 'value', kind: 'number' },
  { name: 'file_id', kind: 'text' },
] as const;

/** Flushes once this much text has gathered: fewer, larger writes to the socket. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Rows (object mode) in, text out: `header` first, then `toLine` of each row, gathered into chunks of about
 * 64 KB. Back-pressure passes through: pipe() stops reading rows while the socket is full.
 */
export class ExportEncoder<Row> extends Transform {
  private pending: string;

  /** `bufferedRows`: rows waiting to be encoded at most (fewer where a row may be large). */
  constructor(
    private readonly toLine: (row: Row) => string,
    header: string,
    bufferedRows = 1000,
  ) {
    super({ writableObjectMode: true, readableObjectMode: false, writableHighWaterMark: bufferedRows });
    this.pending = header;
  }

  override _transform(row: Row, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending += this.toLine(row);
    if (this.pending.length >= CHUNK_CHARS) {
      const out = this.pending;
      this.pending = '';
      done(null, out);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pending.length > 0 ? this.pending : undefined);
  }
}

/** Readings as CSV (header `ts,value,file_id`; the value stays a number) or NDJSON. */
export class ReadingsEncoder extends ExportEncoder<ExportRow> {
  constructor(format: ExportFormat, csv: CsvExportOptions) {
    const writer = format === 'csv' ? new CsvWriter<ExportRow>(READINGS_CSV_COLUMNS, csv) : undefined;
    super(
      writer ? (row) => writer.line(row) : ([ts, value, fileId]) => `${JSON.stringify({ ts, value, file_id: fileId })}\n`,
      writer?.header ?? '',
    );
  }
}

/** `attachment; filename="…"` for a sensor name that may hold `/` and `:`. */
export function exportFileName(sensor: string, format: ExportFormat): string {
  const safe = sensor.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'readings';
  return `${safe}.${format === 'csv' ? 'csv' : 'ndjson'}`;
}
