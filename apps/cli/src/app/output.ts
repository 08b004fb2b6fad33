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
export function renderTable(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head: head.map(escapeControls), style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map((c) => escapeControls(String(c)))));
  return t.toString();
}

export const formatCount = (n: number) => n.toLocaleString('en-US');
