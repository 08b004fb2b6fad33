import { escapeControls, escapeControlsInLines, renderTable, terminalJson } from './output';

const HOSTILE = 'a\u001b]0;owned\u0007\u001b[2Jb.csv';
/** Any byte a terminal would act on: C0 (but the line breaks we write), DEL, C1, bidi overrides. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe(escapeControls.name, () => {
  it('shows escape sequences from a file name instead of sending them', () => {
    expect(escapeControls(HOSTILE)).toBe('a\\x1b]0;owned\\x07\\x1b[2Jb.csv');
  });

  it('escapes every C0 (line breaks too), DEL, C1 and bidi control, and leaves other text alone', () => {
    expect(escapeControls('\u0000\t\n\r\u007f\u0085\u009b\u202e')).toBe('\\x00\\x09\\x0a\\x0d\\x7f\\x85\\x9b\\u202e');
    expect(escapeControls('café/Zürich 温度 ✓ "x" \\ y')).toBe('café/Zürich 温度 ✓ "x" \\ y');
  });

  it('keeps the line breaks of multi-line output', () => {
    expect(escapeControlsInLines(`error: unknown option '${HOSTILE}'\n(add --help for usage)\n`)).toBe("error: unknown option 'a\\x1b]0;owned\\x07\\x1b[2Jb.csv'\n(add --help for usage)\n");
  });
});

describe(renderTable.name, () => {
  it('escapes every cell and heading', () => {
    const table = renderTable(['name\u009b'], [[HOSTILE], ['line\nbreak']]);
    expect(table).not.toMatch(ACTIVE);
    expect(table).toContain('a\\x1b]0;owned\\x07\\x1b[2Jb.csv');
    expect(table).toContain('line\\x0abreak');
  });
});

describe(terminalJson.name, () => {
  it('is JSON that reads back the same, with no control character left raw', () => {
    const value = { name: `${HOSTILE}\u0085\u009b\u007f\u202e` };
    const text = terminalJson(value);
    expect(text).not.toMatch(ACTIVE);
    expect(JSON.parse(text)).toEqual(value);
  });
});
