/**
 * Readings in COPY's binary format, for `COPY raw_sensor_data (sensor_id, ts, value, file_id) FROM STDIN (FORMAT
 * binary)`. PostgreSQL then parses no text (`\copy` of 2.84M such rows took 10.5–10.8 s in binary against
 * 14.1–16.8 s as text), and the loader formats no timestamp or number: the values go in as the int4, int8
 * microseconds and float8 they already are.
 */
export const RAW_COPY_BINARY = 'COPY raw_sensor_data (sensor_id, ts, value, file_id) FROM STDIN (FORMAT binary)';

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC). */
const PG_EPOCH_MICROS = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;
/** Field count, then each field's length and bytes: int4, timestamptz, float8, uuid. */
const TUPLE_BYTES = 2 + (4 + 4) + (4 + 8) + (4 + 8) + (4 + 16);
const EMPTY = Buffer.alloc(0);

/** Tuples of one file's readings, added one by one and taken as a buffer per batch. */
export class ReadingTuples {
  /** A whole tuple with the file's id in place: each reading copies it and writes its three values. */
  private readonly template: Buffer;
  private buf = EMPTY;
  private view = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);
  private at = 0;

  constructor(fileId: string) {
    const id = Buffer.from(fileId.replace(/-/g, ''), 'hex');
    if (id.length !== 16) throw new Error(`file id ${fileId} is not a uuid`);
    this.template = Buffer.alloc(TUPLE_BYTES);
    const t = new DataView(this.template.buffer, this.template.byteOffset, TUPLE_BYTES);
    t.setInt16(0, 4);
    t.setInt32(2, 4);
    t.setInt32(10, 8);
    t.setInt32(22, 8);
    t.setInt32(34, 16);
    id.copy(this.template, 38);
  }

  /** Room for `n` more readings (call before adding them). */
  reserve(n: number): void {
    if (this.at + n * TUPLE_BYTES <= this.buf.length) return;
    const next = Buffer.allocUnsafe(this.at + n * TUPLE_BYTES);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  /**
   * One reading; `tsMicros` whole microseconds since the Unix epoch. Room must be reserved. Text COPY refused a
   * sensor id, time or value that is not one; bytes would store it as something else, so it throws here instead.
   */
  add(sensorId: number, tsMicros: number, value: number): void {
    if (!Number.isInteger(sensorId) || !Number.isInteger(tsMicros) || !Number.isFinite(value)) {
      throw new Error(`reading not encodable for COPY: sensor id ${sensorId}, time ${tsMicros} µs, value ${value}`);
    }
    const at = this.at;
    this.template.copy(this.buf, at);
    const v = this.view;
    v.setInt32(at + 6, sensorId);
    const pg = tsMicros - PG_EPOCH_MICROS;
    const hi = Math.floor(pg / TWO_32);
    v.setInt32(at + 14, hi);
    v.setUint32(at + 18, pg - hi * TWO_32);
    // + 0: -0 is stored as 0, as its text form "0" was.
    v.setFloat64(at + 26, value + 0);
    this.at = at + TUPLE_BYTES;
  }

  /** The tuples added since the last take; the next ones go into a new buffer (the COPY stream may still hold this one). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.at);
    this.buf = EMPTY;
    this.at = 0;
    return out;
  }
}
