/**
 * How a column's cells are written. `number`: a number (or numeric text, e.g. a bigint) as it is, never
 * neutralised, so machine consumers still read `-1.5` as a number; anything else in it is written as text.
 * `text`: quoted when it holds a quote, comma or line break, and neutralised when it could be a formula.
 */
export type CsvColumnKind = 'text' | 'number';

export interface CsvColumn {
  name: string;
  kind: CsvColumnKind;
}

export interface CsvWriterOptions {
  /**
   * Neutralise cells a spreadsheet would run as a formula (OWASP CSV injection): a text cell starting with
   * `=`, `+`, `-`, `@`, tab, CR or LF is written as `"'…"`. Off only for machine consumers.
   */
  neutraliseFormulas: boolean;
}

/** `=`, `+`, `-`, `@`, tab, CR, LF: the first characters that make a spreadsheet read a cell as a formula (or let it smuggle one in). */
const FORMULA_START = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d, 0x0a]);
const NEEDS_QUOTES = /[",\r\n]/;
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

const quoted = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** One text cell: quoted when needed; with `neutralise`, a formula-like cell gets a leading `'`, quoted. */
export function csvTextCell(value: string, neutralise: boolean): string {
  // A char code test, not a regex: exports write millions of cells.
  if (neutralise && FORMULA_START.has(value.charCodeAt(0))) return quoted(`'${value}`);
  return NEEDS_QUOTES.test(value) ? quoted(value) : value;
}

/** One number cell: a finite number or numeric text as it is (String(number) parses back to the same double). */
export function csvNumberCell(value: unknown, neutralise: boolean): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = String(value);
  return NUMERIC.test(text) ? text : csvTextCell(text, neutralise);
}

/**
 * The one writer of every CSV the product outputs (API exports, CLI): a header line and one line per row
 * of cells in column order. null and undefined are empty cells. Lines end with `\n`.
 */
export class CsvWriter<Row extends readonly unknown[] = readonly unknown[]> {
  readonly header: string;
  private readonly numeric: boolean[];
  private readonly neutralise: boolean;
  private readonly cells: string[];

  constructor(columns: readonly CsvColumn[], { neutraliseFormulas }: CsvWriterOptions) {
    this.header = `${columns.map((c) => csvTextCell(c.name, neutraliseFormulas)).join(',')}\n`;
    this.numeric = columns.map((c) => c.kind === 'number');
    this.neutralise = neutraliseFormulas;
    this.cells = new Array<string>(columns.length).fill('');
  }

  line(row: Row): string {
    // One array of cells reused for every line, joined once: exports write millions of lines, and building a
    // line by `+=` leaves a string per cell and separator behind for the GC.
    const cells = this.cells;
    for (let i = 0; i < cells.length; i++) {
      const v = row[i];
      cells[i] = v == null ? '' : this.numeric[i] ? csvNumberCell(v, this.neutralise) : csvTextCell(typeof v === 'string' ? v : String(v), this.neutralise);
    }
    return cells.join(',') + '\n';
  }
}
