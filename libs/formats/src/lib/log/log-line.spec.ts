import { microsToIso } from '../sensor/sensor-record';
import { ZonedTime } from '../sensor/zoned-time.util';
import { parseLogLine } from './log-line';

const UTC = new ZonedTime('UTC');
const p = (line: string, zone = UTC) => {
  const r = parseLogLine(line, zone);
  return { ts: r.tsMicros === null ? null : microsToIso(r.tsMicros), tag: r.tag, message: r.message };
};

describe(parseLogLine.name, () => {
  it('reads the folder-queue lines: `tag: message`, the tag in lower case', () => {
    expect(p('info: system booted')).toEqual({ ts: null, tag: 'info', message: 'system booted' });
    expect(p('ERROR: failed to connect')).toEqual({ ts: null, tag: 'error', message: 'failed to connect' });
    expect(p('warn:')).toEqual({ ts: null, tag: 'warn', message: '' });
    expect(p('db.pool-2: exhausted  ')).toEqual({ ts: null, tag: 'db.pool-2', message: 'exhausted' });
  });

  it('reads `[TAG] message` and `[TAG]: message`', () => {
    expect(p('[WARN] disk space low')).toEqual({ ts: null, tag: 'warn', message: 'disk space low' });
    expect(p('[Auth]: token expired')).toEqual({ ts: null, tag: 'auth', message: 'token expired' });
  });

  it('reads a leading ISO-8601 timestamp, bare or in brackets, then a tag or a level word', () => {
    expect(p('2024-07-21T14:30:00Z INFO server started')).toEqual({ ts: '2024-07-21T14:30:00.000000Z', tag: 'info', message: 'server started' });
    expect(p('2024-07-21 14:30:00,123 [error] boom')).toEqual({ ts: '2024-07-21T14:30:00.123000Z', tag: 'error', message: 'boom' });
    expect(p('[2024-07-21T16:30:00.5+02:00] warn: slow')).toEqual({ ts: '2024-07-21T14:30:00.500000Z', tag: 'warn', message: 'slow' });
    expect(p('2024-07-21T14:30Z Warning: low')).toEqual({ ts: '2024-07-21T14:30:00.000000Z', tag: 'warning', message: 'low' });
    expect(p('2024-07-21T14:30:00Z')).toEqual({ ts: '2024-07-21T14:30:00.000000Z', tag: null, message: '' });
  });

  it('reads a timestamp without an offset in the naive zone', () => {
    expect(p('2024-01-15 10:00:00 DEBUG x', new ZonedTime('Europe/Berlin'))).toEqual({ ts: '2024-01-15T09:00:00.000000Z', tag: 'debug', message: 'x' });
  });

  it('takes a level word as the tag only after a timestamp, and only a known one', () => {
    expect(p('INFO server started')).toEqual({ ts: null, tag: null, message: 'INFO server started' });
    expect(p('2024-07-21T14:30:00Z server started')).toEqual({ ts: '2024-07-21T14:30:00.000000Z', tag: null, message: 'server started' });
  });

  it('keeps lines without a timestamp or a tag whole', () => {
    for (const line of ['Once upon a time', 'see http://example.com: now', '12:30 lunch', '    at main (app.js:1:1)', 'app[123]: started', '[1, 2] pair']) {
      expect(p(line)).toEqual({ ts: null, tag: null, message: line.trimEnd() });
    }
    expect(p(`${'x'.repeat(40)}: too long for a tag`).tag).toBeNull();
  });

  it('takes a timestamp-shaped prefix that is no instant, or an unclosed bracket, as text', () => {
    expect(p('2024-13-45 10:00:00 ERROR x')).toEqual({ ts: null, tag: null, message: '2024-13-45 10:00:00 ERROR x' });
    expect(p('[2024-07-21T14:30:00Z INFO x')).toEqual({ ts: null, tag: null, message: '[2024-07-21T14:30:00Z INFO x' });
  });
});
