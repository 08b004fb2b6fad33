import { Readable } from 'node:stream';
import type { SensorIds } from './sensor-registry';

/** Lines of each generated file: with a few passes (the processor makes three), enough runs of the per-line code for V8 to optimise it. */
export const WARM_UP_LINES = 2_000;
/** The chunk size of a file read from disk (fs streams' default), so the parser sees the chunks it will see. */
const CHUNK_BYTES = 64 * 1024;
/** The file id the warm-up's COPY tuples carry; nothing is written anywhere. */
export const WARM_UP_FILE_ID = '00000000-0000-0000-0000-000000000000';

/** Sensor ids numbered in memory, in the order asked: the fast pass's code, without its database. */
export class InMemorySensorIds implements SensorIds {
  private readonly ids = new Map<string, number>();

  async resolveWide(devices: string[], metrics: string[]): Promise<void> {
    for (const d of devices) for (const m of metrics) this.idOf(`${d}/${m}`);
  }

  cachedName(name: string): number | undefined {
    return this.ids.get(name);
  }

  async resolveUuids(uuids: string[]): Promise<void> {
    for (const u of uuids) this.idOf(u);
  }

  cachedUuid(uuid: string): number | undefined {
    return this.ids.get(uuid);
  }

  private idOf(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = this.ids.size + 1));
    return id;
  }
}

/**
 * A wide sensor CSV in the shapes files come in: quoted fields, timestamps in seconds both as exponent
 * (`1.5947520015814457E9`) and plain decimals, numbers and booleans; three devices, seven metrics; a line a
 * second up to `endMs` (recent, so no retention floor refuses it).
 */
export function wideWarmUpFile(endMs: number, lines = WARM_UP_LINES): Readable {
  const rows = ['"ts","device","co","humidity","light","lpg","motion","smoke","temp"'];
  const first = Math.floor(endMs / 1000) - lines;
  for (let i = 0; i < lines; i++) {
    const secs = first + i + ((i * 7919) % 1000) / 1000;
    const ts = i % 2 ? `${secs / 1e9}E9` : String(secs);
    const v = (i % 50) / 100;
    rows.push(`"${ts}","00:0f:00:70:91:0${i % 3}","${0.004 + v / 100}","${50 + v}","${i % 2 ? 'True' : 'False'}","${0.007 + v / 100}","${i % 3 ? 'False' : 'True'}","${0.019 + v / 100}","${(22 + v).toFixed(1)}"`);
  }
  return chunked(rows);
}

/** A long sensor CSV as the object-store layout writes it (`;timestamp;sensor_uuid;sensor_value`): four sensors, a minute apart, up to `endMs`. */
export function longWarmUpFile(endMs: number, lines = WARM_UP_LINES): Readable {
  const rows = [';timestamp;sensor_uuid;sensor_value'];
  const first = Math.floor(endMs / 60_000) * 60_000 - Math.ceil(lines / 4) * 60_000;
  for (let i = 0; i < lines; i++) {
    const ts = new Date(first + Math.floor(i / 4) * 60_000).toISOString().replace('T', ' ').replace('.000Z', '+00:00');
    rows.push(`${i};${ts};3e9e0d50-1ff8-4789-bc67-d571bd52f17${i % 4};${(20 + (i % 100) / 97).toFixed(4)}`);
  }
  return chunked(rows);
}

function chunked(rows: string[]): Readable {
  const bytes = Buffer.from(rows.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.subarray(at, at + CHUNK_BYTES));
  return Readable.from(chunks);
}
