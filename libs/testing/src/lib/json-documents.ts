import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

const STATUSES = ['driving', 'parking', 'idle', 'accident'];

export interface FleetDocumentOptions {
  /** Size to reach, in bytes (the document ends with the item that reaches it). */
  bytes: number;
  /** Distinct vehicle ids, used in turn: vehicles_status ends with one row per vehicle. */
  vehicles: number;
  /** Spaces of indentation before each item, to make a document large with fewer items. */
  indent?: number;
}

/**
 * Writes `{"vehicle_status": [...]}` (SPEC §4.2), one item a line, as it generates it (never held in
 * memory): item n is on line n + 3, its report_time n × 250 ms after 2024-01-01. Returns the item count.
 */
export async function writeFleetDocument(path: string, opts: FleetDocumentOptions): Promise<number> {
  const w = createWriteStream(path);
  const pad = ' '.repeat(opts.indent ?? 4);
  const t0 = Date.UTC(2024, 0, 1);
  let written = 0;
  let n = 0;
  const write = async (s: string) => {
    written += Buffer.byteLength(s);
    if (!w.write(s)) await once(w, 'drain');
  };
  await write('{\n  "vehicle_status": [\n');
  while (written < opts.bytes) {
    const chunk: string[] = [];
    for (let i = 0; i < 5000 && written + chunk.length * 100 < opts.bytes; i++, n++) {
      const id = `veh-${String(n % opts.vehicles).padStart(6, '0')}`;
      chunk.push(`${n ? ',\n' : ''}${pad}{"vehicle_id": "${id}", "report_time": "${new Date(t0 + n * 250).toISOString()}", "status": "${STATUSES[n % STATUSES.length]}"}`);
    }
    await write(chunk.join(''));
  }
  await write('\n  ]\n}\n');
  w.end();
  await once(w, 'finish');
  return n;
}
