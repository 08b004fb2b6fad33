/**
 * Wall-clock time in an IANA zone → UTC, with Intl only. Offsets are cached per UTC hour (an hour never
 * holds two transitions), so the cost per timestamp is a Map lookup after warm-up.
 */
const HOUR_MS = 3_600_000;
const CACHE_LIMIT = 50_000;

export class ZonedTime {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(readonly timeZone: string) {
    // Throws RangeError for an unknown zone: configuration validates it before we get here.
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  }

  /** Offset (ms, local − UTC) in force at the UTC instant `utcMs`. */
  offsetAt(utcMs: number): number {
    const hour = Math.floor(utcMs / HOUR_MS);
    let off = this.offsets.get(hour);
    if (off === undefined) {
      const start = this.computeOffset(hour * HOUR_MS);
      const end = this.computeOffset(hour * HOUR_MS + HOUR_MS - 1);
      // A transition inside this hour: do not cache, answer exactly.
      if (start !== end) return this.computeOffset(utcMs);
      off = start;
      if (this.offsets.size >= CACHE_LIMIT) this.offsets.clear();
      this.offsets.set(hour, off);
    }
    return off;
  }

  /**
   * UTC ms of a wall-clock time given as if it were UTC (`Date.UTC(y, m, d, …)`), resolved like
   * PostgreSQL does: an ambiguous time (clock set back) is read in standard time, the later instant; a
   * time skipped by a clock set forward moves forward by the gap.
   */
  toUtc(wallMs: number): number {
    const a = this.offsetAt(wallMs - 86_400_000);
    const b = this.offsetAt(wallMs + 86_400_000);
    const low = Math.min(a, b);
    const high = Math.max(a, b);
    if (this.offsetAt(wallMs - low) === low) return wallMs - low;
    if (this.offsetAt(wallMs - high) === high) return wallMs - high;
    return wallMs - low;
  }

  private computeOffset(utcMs: number): number {
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
    for (const p of this.fmt.formatToParts(new Date(utcMs))) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value); break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
        case 'era': bc = p.value.startsWith('B'); break;
        case 'dayPeriod':
        case 'fractionalSecond':
        case 'literal':
        case 'timeZoneName':
        case 'unknown':
        case 'weekday':
          break;
      }
    }
    // setUTCFullYear, not Date.UTC: the latter maps years 0–99 to 1900–1999.
    const local = new Date(0);
    local.setUTCFullYear(bc ? 1 - y : y, mo - 1, d);
    local.setUTCHours(h, mi, s, 0);
    return local.getTime() - (utcMs - (((utcMs % 1000) + 1000) % 1000));
  }
}
