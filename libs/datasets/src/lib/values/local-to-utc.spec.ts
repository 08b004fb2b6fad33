import { type LocalToUtcResult, type WallTime, localToUtc } from './local-to-utc';

function wall(text: string): WallTime {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text)!;
  return { year: +m[1], month: +m[2], day: +m[3], hour: +m[4], minute: +m[5], second: m[6] ? +m[6] : 0, millisecond: 0 };
}

function iso(result: LocalToUtcResult): string {
  if (!result.ok) throw new Error(`expected an instant, got ${result.rule}: ${result.message}`);
  return new Date(result.epochMs).toISOString();
}

describe('localToUtc', () => {
  describe('Europe/Berlin, spring forward (2024-03-31, 02:00 → 03:00)', () => {
    it('refuses 02:30 as a gap, saying what the clocks did', () => {
      expect(localToUtc(wall('2024-03-31 02:30'), 'Europe/Berlin', 'reject')).toEqual({
        ok: false,
        rule: 'tz_gap',
        message: '02:30 on 2024-03-31 does not exist in Europe/Berlin: clocks jumped from 02:00 to 03:00',
      });
    });

    it('refuses 02:00 exactly and 02:59:59, whatever the ambiguous policy', () => {
      for (const policy of ['reject', 'earlier', 'later'] as const) {
        expect(localToUtc(wall('2024-03-31 02:00'), 'Europe/Berlin', policy)).toMatchObject({ ok: false, rule: 'tz_gap' });
        expect(localToUtc(wall('2024-03-31 02:59:59'), 'Europe/Berlin', policy)).toMatchObject({ ok: false, rule: 'tz_gap' });
      }
    });

    it('reads 01:59 in winter time and 03:00 in summer time', () => {
      expect(iso(localToUtc(wall('2024-03-31 01:59'), 'Europe/Berlin', 'reject'))).toBe('2024-03-31T00:59:00.000Z');
      expect(iso(localToUtc(wall('2024-03-31 03:00'), 'Europe/Berlin', 'reject'))).toBe('2024-03-31T01:00:00.000Z');
    });
  });

  describe('Europe/Berlin, fall back (2024-10-27, 03:00 → 02:00)', () => {
    it('refuses 02:30 as ambiguous by default, naming both instants', () => {
      const result = localToUtc(wall('2024-10-27 02:30'), 'Europe/Berlin', 'reject');
      expect(result).toEqual({
        ok: false,
        rule: 'tz_ambiguous',
        message:
          '02:30 on 2024-10-27 happens twice in Europe/Berlin (clocks went back from 03:00 to 02:00): ' +
          "at 2024-10-27T00:30:00Z and at 2024-10-27T01:30:00Z; the column's ambiguous: earlier or later picks one",
      });
    });

    it('takes the earlier (summer time) or the later (winter time) instant when told to', () => {
      expect(iso(localToUtc(wall('2024-10-27 02:30'), 'Europe/Berlin', 'earlier'))).toBe('2024-10-27T00:30:00.000Z');
      expect(iso(localToUtc(wall('2024-10-27 02:30'), 'Europe/Berlin', 'later'))).toBe('2024-10-27T01:30:00.000Z');
    });

    it('reads 01:59 and 03:00 once', () => {
      expect(iso(localToUtc(wall('2024-10-27 01:59'), 'Europe/Berlin', 'reject'))).toBe('2024-10-26T23:59:00.000Z');
      expect(iso(localToUtc(wall('2024-10-27 03:00'), 'Europe/Berlin', 'reject'))).toBe('2024-10-27T02:00:00.000Z');
    });
  });

  describe('a whole year every 30 minutes agrees with Intl', () => {
    const cases = [
      { zone: 'Europe/Berlin', gaps: ['2024-03-31 02:00', '2024-03-31 02:30'], doubles: ['2024-10-27 02:00', '2024-10-27 02:30'] },
      { zone: 'America/New_York', gaps: ['2024-03-10 02:00', '2024-03-10 02:30'], doubles: ['2024-11-03 01:00', '2024-11-03 01:30'] },
    ];

    it.each(cases)('$zone', ({ zone, gaps, doubles }) => {
      const format = new Intl.DateTimeFormat('en-CA', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
      const wallOf = (instant: number): string => {
        const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
        return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
      };
      const gapSlots: string[] = [];
      const doubleSlots: string[] = [];
      let slots = 0;
      for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2025, 0, 1); t += 30 * 60_000) {
        slots++;
        const d = new Date(t);
        const w: WallTime = {
          year: d.getUTCFullYear(),
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
          hour: d.getUTCHours(),
          minute: d.getUTCMinutes(),
          second: 0,
          millisecond: 0,
        };
        const written = d.toISOString().slice(0, 19).replace('T', ' ');
        const label = written.slice(0, 16);
        const result = localToUtc(w, zone, 'reject');
        if (result.ok) {
          expect(wallOf(result.epochMs)).toBe(written);
        } else if (result.rule === 'tz_gap') {
          gapSlots.push(label);
        } else {
          doubleSlots.push(label);
          const earlier = localToUtc(w, zone, 'earlier');
          const later = localToUtc(w, zone, 'later');
          if (!earlier.ok || !later.ok) throw new Error(`${label} in ${zone} has no earlier or later instant`);
          expect(wallOf(earlier.epochMs)).toBe(written);
          expect(wallOf(later.epochMs)).toBe(written);
          expect(later.epochMs - earlier.epochMs).toBe(3_600_000);
        }
      }
      expect(slots).toBe(366 * 48);
      expect(gapSlots).toEqual(gaps);
      expect(doubleSlots).toEqual(doubles);
    });
  });

  describe('Australia/Sydney (southern hemisphere: summer time from October to April)', () => {
    it('has its gap in October and its doubled hour in April', () => {
      expect(localToUtc(wall('2024-10-06 02:30'), 'Australia/Sydney', 'reject')).toEqual({
        ok: false,
        rule: 'tz_gap',
        message: '02:30 on 2024-10-06 does not exist in Australia/Sydney: clocks jumped from 02:00 to 03:00',
      });
      expect(localToUtc(wall('2024-04-07 02:30'), 'Australia/Sydney', 'reject')).toMatchObject({ ok: false, rule: 'tz_ambiguous' });
      expect(iso(localToUtc(wall('2024-04-07 02:30'), 'Australia/Sydney', 'earlier'))).toBe('2024-04-06T15:30:00.000Z');
      expect(iso(localToUtc(wall('2024-04-07 02:30'), 'Australia/Sydney', 'later'))).toBe('2024-04-06T16:30:00.000Z');
      expect(iso(localToUtc(wall('2024-07-01 12:00'), 'Australia/Sydney', 'reject'))).toBe('2024-07-01T02:00:00.000Z');
    });
  });

  describe('Australia/Lord_Howe (clocks move by 30 minutes)', () => {
    it('has a 30-minute gap and a 30-minute doubled span', () => {
      expect(localToUtc(wall('2024-10-06 02:15'), 'Australia/Lord_Howe', 'reject')).toEqual({
        ok: false,
        rule: 'tz_gap',
        message: '02:15 on 2024-10-06 does not exist in Australia/Lord_Howe: clocks jumped from 02:00 to 02:30',
      });
      expect(iso(localToUtc(wall('2024-10-06 02:30'), 'Australia/Lord_Howe', 'reject'))).toBe('2024-10-05T15:30:00.000Z');
      expect(localToUtc(wall('2024-04-07 01:45'), 'Australia/Lord_Howe', 'reject')).toMatchObject({
        ok: false,
        rule: 'tz_ambiguous',
        message: expect.stringContaining('clocks went back from 02:00 to 01:30'),
      });
      expect(iso(localToUtc(wall('2024-04-07 01:45'), 'Australia/Lord_Howe', 'earlier'))).toBe('2024-04-06T14:45:00.000Z');
      expect(iso(localToUtc(wall('2024-04-07 01:45'), 'Australia/Lord_Howe', 'later'))).toBe('2024-04-06T15:15:00.000Z');
    });
  });

  it('reads any time in UTC as itself, years before 100 included', () => {
    expect(iso(localToUtc(wall('2024-03-31 02:30'), 'UTC', 'reject'))).toBe('2024-03-31T02:30:00.000Z');
    expect(iso(localToUtc(wall('0050-06-01 12:00'), 'UTC', 'reject'))).toBe('0050-06-01T12:00:00.000Z');
  });

  it('refuses a zone name it does not know', () => {
    expect(() => localToUtc(wall('2024-01-01 00:00'), 'Mars/Olympus_Mons', 'reject')).toThrow(/not an IANA time zone/);
  });
});
