import { IANAZone } from 'luxon';
import { ZonedTime } from '@sluice/formats';
import type { AmbiguousPolicy } from '../contract';

/** A wall-clock time: what a clock in some zone shows. Fields must form a real calendar time (month 1–12, …). */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

export type LocalToUtcResult = { ok: true; epochMs: number } | { ok: false; rule: 'tz_gap' | 'tz_ambiguous'; message: string };

const DAY_MS = 86_400_000;

/** Offsets of a zone by instant, cached per UTC hour; one per zone for the life of the process (zones are few). */
const zones = new Map<string, ZonedTime>();

/** Whether `zone` is an IANA zone name this runtime knows (`Europe/Berlin`, `UTC`). */
export function isKnownZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

function zoneOffsets(zone: string): ZonedTime {
  let offsets = zones.get(zone);
  if (offsets === undefined) {
    if (!isKnownZone(zone)) throw new RangeError(`"${zone}" is not an IANA time zone name such as Europe/Berlin`);
    offsets = new ZonedTime(zone);
    zones.set(zone, offsets);
  }
  return offsets;
}

/** The wall time read as if it were UTC; setUTCFullYear, as Date.UTC maps years 0–99 to 1900–1999. */
export function wallAsUtc(w: WallTime): number {
  // Date.UTC reads a year below 100 as 19xx; those few take the longer way.
  if (w.year >= 100) return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, w.millisecond);
  return d.getTime();
}

/**
 * The instant a wall-clock time in `zone` stands for. The clock change itself is decided here, never by a
 * library that silently moves a time forward: the zone's offsets a day before and a day after are the only
 * candidates, and a candidate instant counts when the zone really has that offset at it. None counts: the
 * clocks skipped this time (`tz_gap`). Two count: the clocks showed it twice (`tz_ambiguous`, unless `ambiguous`
 * picks the earlier or later instant).
 */
export function localToUtc(wall: WallTime, zone: string, ambiguous: AmbiguousPolicy): LocalToUtcResult {
  const offsets = zoneOffsets(zone);
  const local = wallAsUtc(wall);
  const before = offsets.offsetAt(local - DAY_MS);
  const after = offsets.offsetAt(local + DAY_MS);
  const first = local - before;
  const firstFits = offsets.offsetAt(first) === before;
  if (before === after) {
    if (firstFits) return { ok: true, epochMs: first };
    return { ok: false, rule: 'tz_gap', message: `${describeWall(local)} does not exist in ${zone}` };
  }
  const second = local - after;
  const secondFits = offsets.offsetAt(second) === after;
  if (firstFits && secondFits) {
    const earlier = Math.min(first, second);
    const later = Math.max(first, second);
    if (ambiguous === 'earlier') return { ok: true, epochMs: earlier };
    if (ambiguous === 'later') return { ok: true, epochMs: later };
    return {
      ok: false,
      rule: 'tz_ambiguous',
      message:
        `${describeWall(local)} happens twice in ${zone} (${describeChange(offsets, local, before, after, 'went back')}): ` +
        `at ${isoUtc(earlier)} and at ${isoUtc(later)}; the column's ambiguous: earlier or later picks one`,
    };
  }
  if (firstFits) return { ok: true, epochMs: first };
  if (secondFits) return { ok: true, epochMs: second };
  return {
    ok: false,
    rule: 'tz_gap',
    message: `${describeWall(local)} does not exist in ${zone}: ${describeChange(offsets, local, before, after, 'jumped')}`,
  };
}

/**
 * "clocks jumped from 02:00 to 03:00": the wall times either side of the one change between `before` and `after`
 * near `local`, found by bisecting the instants between the two candidates (only a refused value gets here).
 */
function describeChange(offsets: ZonedTime, local: number, before: number, after: number, verb: string): string {
  let lo = local - Math.max(before, after); // offset `before` here …
  let hi = local - Math.min(before, after); // … and `after` here
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsets.offsetAt(mid) === before) lo = mid;
    else hi = mid;
  }
  const from = hi + before;
  const to = hi + after;
  const sameDay = Math.floor(from / DAY_MS) === Math.floor(to / DAY_MS);
  return sameDay
    ? `clocks ${verb} from ${clock(from)} to ${clock(to)}`
    : `clocks ${verb} from ${clock(from)} on ${day(from)} to ${clock(to)} on ${day(to)}`;
}

/** "02:30 on 2024-03-31" (seconds and milliseconds only when there are some). */
function describeWall(local: number): string {
  return `${clock(local)} on ${day(local)}`;
}

function clock(local: number): string {
  const iso = new Date(local).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (iso.endsWith(':00.000Z')) return iso.slice(11, 16);
  return iso.endsWith('.000Z') ? iso.slice(11, 19) : iso.slice(11, 23);
}

function day(local: number): string {
  return new Date(local).toISOString().slice(0, 10);
}

function isoUtc(instant: number): string {
  return new Date(instant).toISOString().replace('.000Z', 'Z');
}
