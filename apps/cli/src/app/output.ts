import Table from 'cli-table3';

/** Where commands write; tests pass their own. */
export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A plain box table (no colours: output is often piped or read in CI logs). */
export function renderTable(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map((c) => String(c))));
  return t.toString();
}

export const formatCount = (n: number) => n.toLocaleString('en-US');
