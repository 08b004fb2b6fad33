/**
 * The (owner, timestamp) keys a file has already produced, with their values, for in-file
 * de-duplication on the COPY fast path. Two generations of up to `capacity` keys are kept in typed arrays
 * (open addressing; each starts small and doubles): memory is bounded and nothing is promoted into the JS
 * heap per line, which is what kept a 1 GB load's RSS flat. A key that fell out of both generations is
 * forgotten; if it repeats, the COPY hits the primary key and the loader falls back to its exact slow path.
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

/** Keys a generation starts with room for: a small file never allocates a full generation (several MB for a wide file). */
const INITIAL_KEYS = 1024;

class Generation {
  private mask = 0;
  private slotEntry = new Int32Array(0);
  private owners = new Int32Array(0);
  private stamps = new Float64Array(0);
  private values = new Float64Array(0);
  /** Keys there is room for now: doubles up to `capacity`. */
  private room = 0;
  private size = 0;

  constructor(
    private readonly width: number,
    private readonly capacity: number,
  ) {
    this.allocate(Math.min(capacity, INITIAL_KEYS));
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
    if (this.size >= this.room) this.grow();
    const e = this.size++;
    this.owners[e] = owner;
    this.stamps[e] = ts;
    this.values.set(values, e * this.width);
    this.place(e);
  }

  equals(e: number, values: ArrayLike<number>, width: number): boolean {
    const base = e * width;
    for (let j = 0; j < width; j++) if (!Object.is(this.values[base + j], values[j])) return false;
    return true;
  }

  private place(e: number): void {
    let s = hash(this.owners[e], this.stamps[e]) & this.mask;
    while (this.slotEntry[s] >= 0) s = (s + 1) & this.mask;
    this.slotEntry[s] = e;
  }

  /** Twice the room (at most `capacity`), the entries kept in their order and placed again. */
  private grow(): void {
    const { owners, stamps, values } = this;
    this.allocate(Math.min(this.capacity, this.room * 2));
    this.owners.set(owners);
    this.stamps.set(stamps);
    this.values.set(values);
    for (let e = 0; e < this.size; e++) this.place(e);
  }

  private allocate(room: number): void {
    let slots = 1;
    while (slots < room * 2) slots <<= 1;
    this.mask = slots - 1;
    this.slotEntry = new Int32Array(slots).fill(-1);
    this.owners = new Int32Array(room);
    this.stamps = new Float64Array(room);
    this.values = new Float64Array(room * this.width);
    this.room = room;
  }
}

function hash(owner: number, ts: number): number {
  const lo = ts >>> 0;
  const hi = Math.floor(ts / 4_294_967_296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(owner, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}
