// The hostile corpus: its cases (fixtures/hostile/manifest.json), the limits they run under, and their bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, wideCsv } from './sensor-data';

export const HOSTILE_DIR = join(FIXTURES, 'hostile');

/** MAX_SSE_CLIENTS of the corpus's query-api: small, so filling it is cheap. */
export const HOSTILE_SSE_CLIENTS = 8;

/** Limits the corpus runs under (small, so the over-limit cases stay cheap), and the stack environment that sets them. */
export const HOSTILE_LIMITS = { maxUploadBytes: 4 * 1024 * 1024, maxIngestBodyBytes: 1024 * 1024 };
export const HOSTILE_STACK_ENV: Record<string, string> = {
  MAX_UPLOAD_BYTES: String(HOSTILE_LIMITS.maxUploadBytes),
  MAX_INGEST_BODY_BYTES: String(HOSTILE_LIMITS.maxIngestBodyBytes),
  INGEST_RATE_LIMIT: '0',
  MAX_SSE_CLIENTS: String(HOSTILE_SSE_CLIENTS),
};

export interface HostileExpectation {
  /** Ledger status the file (or accepted upload) ends in; `skipped`: never registered (symlinks, FIFOs). */
  status?: string;
  /** `error.rule` of a quarantined file (one of several when more than one reason is right). */
  rule?: string | string[];
  /** Readings in raw_sensor_data for the sensors of this device. */
  readings?: { device: string; count: number };
  /** These sensors' aggregates have finite mean and std dev. */
  finiteAggregates?: string;
  rowsRejected?: number;
  /** Rows (lines, items, readings' lines) the file loaded. */
  rowsLoaded?: number;
  /** HTTP status of the request (0: the client aborts it and expects no answer). */
  http?: number;
  /** `error.code` of the JSON error body. */
  code?: string;
  /** Words `error.message` must contain (the true reason, not just the right status). */
  message?: string;
  /** No in-flight temp file left in processing/ once the request is over. */
  noTempFiles?: boolean;
  /** The measurement at this UTC time has finite mean and std dev. */
  finiteMeasurement?: string;
  /** The service logs nothing at level error (50) or above while the case runs. */
  noErrorLog?: boolean;
  /** A CSV answer in which no cell a spreadsheet would run as a formula is left as it is (numbers stay numbers). */
  csvCellsSafe?: boolean;
  /** The answer carries a Retry-After header. */
  retryAfter?: boolean;
}

export interface HostileCase {
  id: string;
  channel: 'drop' | 'upload' | 'ingest' | 'query';
  file?: string;
  generate?: string;
  size?: { ci: number; full: number };
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  key?: 'ingest' | 'query' | 'none' | 'wrong';
  expect: HostileExpectation;
  /** A defect being fixed elsewhere: the case is expected to fail until the fix removes the mark. */
  knownDefect?: string;
  /** The request is sent, then sent again with these changes (same Idempotency-Key): the outcome is the second answer's. */
  repeat?: { body?: string; path?: string; headers?: Record<string, string> };
}

export type CorpusScale = 'ci' | 'full';

export function loadHostileCorpus(): HostileCase[] {
  return (JSON.parse(readFileSync(join(HOSTILE_DIR, 'manifest.json'), 'utf8')) as { cases: HostileCase[] }).cases;
}

/** How large a generated case is at the given scale (0: its fixed size). */
export const sizeOf = (c: HostileCase, scale: CorpusScale) => c.size?.[scale] ?? 0;
const reading = (i: number) => JSON.stringify({ kind: 'sensor_reading', sensor: 'h-gen/temp', ts: new Date(Date.UTC(2024, 5, 1) + i * 60000).toISOString(), value: i % 40 });

/** The bytes of a case whose content is generated (large ones at the given scale). */
export function hostileBytes(c: HostileCase, scale: CorpusScale): Buffer {
  if (c.file) return readFileSync(join(HOSTILE_DIR, c.file));
  const n = sizeOf(c, scale);
  switch (c.generate ?? '') {
    case 'ndjson-long-first-line': {
      const data = Array.from({ length: Math.ceil(n / 5) }, (_, i) => (i % 90) + 10.5);
      const first = JSON.stringify({ kind: 'measurement', time_stamp: '2019-07-01T00:00:00+00:00', data });
      return Buffer.from([first, ...Array.from({ length: 30 }, (_, i) => reading(i))].join('\n') + '\n');
    }
    case 'ndjson-line-too-long':
      return Buffer.from([...Array.from({ length: 30 }, (_, i) => reading(1000 + i)), JSON.stringify({ kind: 'sensor_reading', sensor: 'h-gen/temp', ts: '2024-07-01T00:00:00Z', value: 1, pad: 'x'.repeat(n) })].join('\n') + '\n');
    case 'json-item-too-long': {
      // An item of a streamed document longer than MAX_LINE_BYTES: refused without being held whole.
      const item = (id: string, status: string) => ({ vehicle_id: id, report_time: '2022-05-05T22:02:34.546Z', status });
      return Buffer.from(JSON.stringify({ vehicle_status: [item('h-json-long-1', 'driving'), item('h-json-long-2', 'x'.repeat(n))] }));
    }
    case 'wide-header': {
      const metrics = Array.from({ length: n }, (_, i) => `m${i}`);
      const line = (t: number) => [`"${1_700_000_000 + t}"`, '"h-wide"', ...metrics.map((_, i) => `"${i % 10}"`)].join(',');
      return Buffer.from([['"ts"', '"device"', ...metrics.map((m) => `"${m}"`)].join(','), line(0), line(60)].join('\n') + '\n');
    }
    case 'csv-huge-line': {
      const csv = wideCsv({ lines: 30, devices: ['h-hugeline'], startEpoch: 1_650_000_000 });
      return Buffer.from(csv + `"1650009999","h-hugeline","${'9'.repeat(n)}","1","True","0.1","False","0.1","20"\n`);
    }
    case 'csv':
    case 'large-csv':
    case 'slow-writer':
    case 'unicode-name':
    case 'newline-name':
    case 'escape-name':
    case 'long-name':
      return Buffer.from(wideCsv({ lines: c.generate === 'large-csv' ? n : 200, devices: [`h-${c.id}`], startEpoch: 1_640_000_000 }));
    // Detection past leading whitespace: a document after more than a MiB of it loads; past DETECT_MAX_BLANK_BYTES it is refused for that.
    case 'whitespace-led-json':
    case 'space-led-json':
    case 'whitespace-beyond-detection': {
      const item = (i: number) => ({ vehicle_id: `h-wslead-${c.id}-${i}`, report_time: '2022-05-05T22:02:34.546Z', status: 'driving' });
      const blank = c.generate === 'whitespace-led-json' ? Buffer.from(' \n\t\r\n'.repeat(Math.ceil(n / 5))) : Buffer.alloc(n, 0x20);
      return Buffer.concat([blank, Buffer.from(JSON.stringify({ vehicle_status: [item(1), item(2)] }))]);
    }
    default:
      return Buffer.alloc(0);
  }
}

