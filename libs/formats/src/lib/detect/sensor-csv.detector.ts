import { readSensorHeader } from '../sensor/sensor-csv.header';
import type { KindDetector } from './detector';

/** Wide, long and mapping sensor CSV, recognised by their header line. */
export const sensorCsvDetector: KindDetector = {
  name: 'sensor-csv',
  detect({ text }) {
    // The column limit is the parser's to apply (MAX_CSV_COLUMNS); detection only names the kind.
    const h = readSensorHeader(text, Infinity);
    if (h === null) return null;
    if (typeof h === 'string') return { reject: { rule: 'invalid_header', message: `The CSV header is not usable: ${h}.`, line: 1 } };
    return { kind: h.kind };
  },
};
