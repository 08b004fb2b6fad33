import pino from 'pino';
import { Writable } from 'node:stream';
import { escapeLogLine } from './observability.module';

// A file named to set the window title and clear the screen, with a C1 CSI and a bidi override.
const HOSTILE = 'a\u001b]0;owned\u0007\u001b[2J\u009b31m\u007f\u202eb.csv';
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('log lines', () => {
  it('pino with the streamWrite hook writes JSON in which no control character is raw', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString('utf8');
        done();
      },
    });
    const logger = pino({ hooks: { streamWrite: escapeLogLine } }, sink);
    logger.info({ file: HOSTILE }, `claimed ${HOSTILE}`);
    await new Promise((r) => setImmediate(r));
    expect(out).not.toMatch(ACTIVE);
    const line = JSON.parse(out) as { file: string; msg: string };
    expect([line.file, line.msg]).toEqual([HOSTILE, `claimed ${HOSTILE}`]);
  });

  it('without it, pino leaves C1 and DEL raw (why the hook exists)', () => {
    expect(JSON.stringify(HOSTILE)).toMatch(/\u009b/);
    expect(escapeLogLine(JSON.stringify(HOSTILE))).not.toMatch(ACTIVE);
  });
});
