import Table from 'cli-table3';

/** Where commands write; tests pass their own. */
export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

// C0, DEL, C1 and the bidirectional overrides: a terminal would act on them (set the title, clear the
// screen, reorder text) instead of showing them.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const visible = (c: string) => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
};

/** Text from outside (file names, messages) made safe to print: control characters shown as `\x1b`. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, visible);
}

/** The same for output of several lines: line breaks stay. */
export function escapeControlsInLines(text: string): string {
  return text.split('\n').map(escapeControls).join('\n');
}

const RAW_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** JSON for a terminal: JSON.stringify escapes C0 but leaves DEL, C1 and bidi controls raw. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain box table (no colours: output is often piped or read in CI logs); every cell escaped. */
export function renderTable(head: string[], rows: (string | number)[][], width?: number): string {
  const cells = rows.map((r) => r.map((c) => escapeControls(String(c))));
  const heads = head.map(escapeControls);
  const t = new Table({ head: heads, style: { head: [], border: [] }, ...(width ? fitColumns(heads, cells, width) : {}) });
  t.push(...cells);
  return t.toString();
}

/**
 * Column widths that keep a table within `width`: the widest columns give up room first, down to a floor;
 * their cells wrap instead of running past the terminal's edge.
 */
function fitColumns(head: string[], rows: string[][], width: number): Table.TableConstructorOptions {
  const PAD = 2;
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r[i].split('\n').map((l) => l.length)))) + PAD);
  const room = width - (head.length + 1);
  if (widths.reduce((a, b) => a + b, 0) <= room) return {};
  const FLOOR = 8;
  for (let excess = widths.reduce((a, b) => a + b, 0) - room; excess > 0; excess--) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest] <= FLOOR) break;
    widths[widest]--;
  }
  return { colWidths: widths, wordWrap: true, wrapOnWordBoundary: false };
}

export const formatCount = (n: number) => n.toLocaleString('en-US');

/** Columns of the terminal the output goes to; `COLUMNS`, then 100 when it is a pipe or a file. */
export function terminalWidth(out: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): number {
  const columns = (out as Partial<NodeJS.WriteStream>).columns ?? Number(env['COLUMNS']);
  return Number.isFinite(columns) && columns >= 40 ? Math.min(columns, 400) : 100;
}

/**
 * Text wrapped at word boundaries to `width`, the first line after `lead`, the others indented as far: a long
 * reason stays whole and readable instead of being cut. A word longer than a line is split.
 */
export function wrapText(text: string, width: number, lead = ''): string {
  const indent = ' '.repeat(lead.length);
  const room = Math.max(20, width - lead.length);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    const flush = () => {
      if (line) lines.push(line);
      line = '';
    };
    for (let word of paragraph.split(/ +/)) {
      for (; word.length > room; word = word.slice(room)) {
        flush();
        lines.push(word.slice(0, room));
      }
      if (line && line.length + 1 + word.length > room) flush();
      line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((l, i) => (i === 0 ? lead : indent) + l).join('\n');
}
