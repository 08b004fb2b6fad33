/**
 * The (owner, timestamp) keys a file has already produced, with their values, for in-file
 * de-duplication on the COPY fast path. Two generations of `capacity` keys are kept in typed arrays
 * (open addressing): memory is fixed and nothing is promoted into the JS heap per line, which is what
 * kept a 1 GB load's RSS flat. A key that fell out of both generations is forgotten; if it repeats,
 * the COPY hits the primary key and the loader falls back to its exact slow path.
 */
export class RecentKeys {
  private cur: Generation;
  private prev: Generation;

  /** @param width values per key (metrics of a wide line; 1 for long CSV). */
  constructor(
    private readonly width: number,
    capacity = 65_536,
  ) {
    this.cur = new Generation(width, capacity);
    this.prev = new Generation(width, capacity);
  }

  /**
   * Looks the key up: 'new' (remembered now), 'same' (seen with identical values) or 'different'.
   * `owner` is an int identifying the series (a sensor id), `ts` integer microseconds.
   */
  check(owner: number, ts: number, values: ArrayLike<number>): 'new' | 'same' | 'different' {
    for (const g of [this.cur, this.prev]) {
      const at = g.find(owner, ts);
      if (at >= 0) return g.equals(at, values, this.width) ? 'same' : 'different';
    }
    if (this.cur.full) {
      const old = this.prev;
      this.prev = this.cur;
      old.clear();
      this.cur = old;
    }
    this.cur.insert(owner, ts, values);
    return 'new';
  }
}

class Generation {
  private readonly mask: number;
  private readonly slotEntry: Int32Array;
  private readonly owners: Int32Array;
  private readonly stamps: Float64Array;
  private readonly values: Float64Array;
  private size = 0;

  constructor(
    private readonly width: number,
    private readonly capacity: number,
  ) {
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.mask = slots - 1;
    this.slotEntry = new Int32Array(slots).fill(-1);
    this.owners = new Int32Array(capacity);
    this.stamps = new Float64Array(capacity);
    this.values = new Float64Array(capacity * width);
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  clear(): void {
    this.slotEntry.fill(-1);
    this.size = 0;
  }

  /** Entry index of the key, or -1. */
  find(owner: number, ts: number): number {
    for (let s = hash(owner, ts) & this.mask; ; s = (s + 1) & this.mask) {
      const e = this.slotEntry[s];
      if (e < 0) return -1;
      if (this.owners[e] === owner && this.stamps[e] === ts) return e;
    }
  }

  insert(owner: number, ts: number, values: ArrayLike<number>): void {
    let s = hash(owner, ts) & this.mask;
    while (this.slotEntry[s] >= 0) s = (s + 1) & this.mask;
    const e = this.size++;
    this.slotEntry[s] = e;
    this.owners[e] = owner;
    this.stamps[e] = ts;
    this.values.set(values, e * this.width);
  }

  equals(e: number, values: ArrayLike<number>, width: number): boolean {
    const base = e * width;
    for (let j = 0; j < width; j++) if (!Object.is(this.values[base + j], values[j])) return false;
    return true;
  }
}

function hash(owner: number, ts: number): number {
  const lo = ts >>> 0;
  const hi = Math.floor(ts / 4_294_967_296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(owner, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}
