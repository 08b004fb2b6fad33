import { detectDelimiter, firstLine, splitHeader, stripBom, type CsvDelimiter } from '../csv/delimiter.util';
import { hasControlChars, textProblem } from '../text/storable-text.util';
import { cap, charLength, SENSOR_NAME_MAX } from './sensor-record';

export type SensorCsvKind = 'sensor_wide_csv' | 'sensor_long_csv' | 'sensor_mapping_csv';

/** Where each column of a sensor CSV is, read from its header. */
export interface SensorCsvHeader {
  kind: SensorCsvKind;
  delimiter: CsvDelimiter;
  /** Header cells as written (unquoted, trimmed). */
  columns: string[];
  /** Whether the header quotes its cells (used to echo a refused line in the same style). */
  quoted: boolean;
  /** Wide: index of the timestamp column. Long: index of `timestamp`. */
  tsIndex: number;
  /** Wide: index of the device column. */
  deviceIndex: number;
  /** Wide: metric names and their column indexes (every column but ts and device). */
  metrics: string[];
  metricIndexes: number[];
  /** Long and mapping: index of `sensor_uuid`. */
  uuidIndex: number;
  /** Long: index of `sensor_value`. */
  valueIndex: number;
  /** Mapping: index of `sensor_name`. */
  nameIndex: number;
}

const WIDE_TS = ['ts', 'timestamp', 'time'];
const WIDE_DEVICE = ['device', 'device_id'];

function emptyHeader(kind: SensorCsvKind, delimiter: CsvDelimiter, columns: string[]): SensorCsvHeader {
  return { kind, delimiter, columns, quoted: false, tsIndex: -1, deviceIndex: -1, metrics: [], metricIndexes: [], uuidIndex: -1, valueIndex: -1, nameIndex: -1 };
}

/** Most columns a sensor CSV header may have by default (MAX_CSV_COLUMNS). */
export const DEFAULT_MAX_CSV_COLUMNS = 10_000;

/**
 * Reads a sensor CSV header line (`text` must hold all of it). Returns null when the line is not one of
 * the three layouts, or a string explaining what is wrong when it looks like one but is malformed: more
 * than `maxColumns` columns, a NUL or bytes that are not UTF-8 (they would end up in sensor names), …
 */
export function readSensorHeader(text: string, maxColumns = DEFAULT_MAX_CSV_COLUMNS): SensorCsvHeader | string | null {
  const line = firstLine(stripBom(text));
  const h = readHeaderLine(line);
  if (h === null || typeof h === 'string') return h;
  if (h.columns.length > maxColumns) return `the header has ${h.columns.length} columns; at most ${maxColumns} are accepted (MAX_CSV_COLUMNS)`;
  const bad = textProblem(line);
  if (bad) return bad === 'invalid_character' ? 'the header line holds a NUL character' : 'the header line holds bytes that are not UTF-8; save the file as UTF-8';
  if (hasControlChars(line)) return 'the header line holds a control character; column names become sensor names';
  return h;
}

function readHeaderLine(line: string): SensorCsvHeader | string | null {
  const delimiter = detectDelimiter(line);
  const columns = splitHeader(line, delimiter);
  const lower = columns.map((c) => c.toLowerCase());
  const has = (name: string) => lower.indexOf(name);
  const quoted = line.trimStart().startsWith('"');
  const blank = (kind: SensorCsvKind) => ({ ...emptyHeader(kind, delimiter, columns), quoted });

  // Long: optional leading unnamed index column, then timestamp;sensor_uuid;sensor_value.
  if (has('sensor_uuid') >= 0 && has('sensor_value') >= 0 && has('timestamp') >= 0) {
    const twice = repeatedAny(lower, ['timestamp', 'sensor_uuid', 'sensor_value'], 'a long sensor CSV has one of each');
    if (twice) return twice;
    const h = blank('sensor_long_csv');
    h.tsIndex = has('timestamp');
    h.uuidIndex = has('sensor_uuid');
    h.valueIndex = has('sensor_value');
    const extra = lower.filter((c, i) => i !== h.tsIndex && i !== h.uuidIndex && i !== h.valueIndex && !(i === 0 && c === ''));
    if (extra.length) return `unexpected column(s) ${extra.map((c) => `"${c}"`).join(', ')} in a long sensor CSV header`;
    return h;
  }
  if (has('sensor_uuid') >= 0 && has('sensor_name') >= 0) {
    const twice = repeatedAny(lower, ['sensor_uuid', 'sensor_name'], 'a mapping CSV has one of each');
    if (twice) return twice;
    const h = blank('sensor_mapping_csv');
    h.uuidIndex = has('sensor_uuid');
    h.nameIndex = has('sensor_name');
    return h;
  }
  const ts = lower.findIndex((c) => WIDE_TS.includes(c));
  const device = lower.findIndex((c) => WIDE_DEVICE.includes(c));
  if (ts < 0 || device < 0 || columns.length < 3) return null;
  // A second timestamp or device column would silently become a metric: which one identifies the reading is unclear.
  const twice = repeated(lower, WIDE_TS, `a wide sensor CSV has one timestamp column (${WIDE_TS.join(', ')})`) ?? repeated(lower, WIDE_DEVICE, `a wide sensor CSV has one device column (${WIDE_DEVICE.join(', ')})`);
  if (twice) return twice;
  const h = blank('sensor_wide_csv');
  h.tsIndex = ts;
  h.deviceIndex = device;
  const seen = new Map<string, number>();
  for (let i = 0; i < columns.length; i++) {
    if (i === ts || i === device) continue;
    const name = columns[i];
    if (!name) return `column ${i + 1} of the header has no name`;
    if (name.includes('/')) return `metric column "${cap(name, 100)}" contains "/", which sensor names use as separator`;
    const first = seen.get(name);
    if (first !== undefined) return `metric column "${cap(name, 100)}" appears twice in the header, as columns ${first + 1} and ${i + 1}; each metric is one sensor per device`;
    const length = charLength(name);
    if (length > SENSOR_NAME_MAX - 2) {
      return `metric column ${i + 1} ("${cap(name, 40)}…") is ${length} characters long: its sensor names (<device>/<metric>) would be longer than ${SENSOR_NAME_MAX} characters (SENSOR_NAME_MAX)`;
    }
    seen.set(name, i);
    h.metrics.push(name);
    h.metricIndexes.push(i);
  }
  return h;
}

/** Why a header names any of `names` more than once (case aside), with the columns, or null. */
function repeatedAny(lower: string[], names: readonly string[], rule: string): string | null {
  for (const name of names) {
    const twice = repeated(lower, [name], rule);
    if (twice) return twice;
  }
  return null;
}

/** Why a header holds more than one column of the group `names` (case aside), with the columns, or null. */
function repeated(lower: string[], names: readonly string[], rule: string): string | null {
  const at = lower.flatMap((c, i) => (names.includes(c) ? [i] : []));
  if (at.length < 2) return null;
  const cols = at.map((i) => `"${lower[i]}" (column ${i + 1})`).join(', ');
  return `the header names ${cols}: ${rule}`;
}
