import { parse } from 'csv-parse/sync';
import { inferColumn } from './infer-column';
import { fits } from './values';

/** What sniffing finds out about a CSV: the settings of a contract's `format` it can guess. */
export interface CsvSniff {
  delimiter: string;
  quote: string;
  header: boolean;
  decimalComma: boolean;
  skipLines: number;
}

/** A column of sampled CSV values: sample `i` of every column comes from the same record. */
export interface SampledColumn {
  source: string;
  samples: unknown[];
}

/** Delimiters tried, in the order that wins a tie. */
export const SNIFF_DELIMITERS = [',', ';', '\t', '|'] as const;
/** Characters and records of a sample that sniffing reads; the start of a file says enough. */
export const MAX_SNIFF_CHARS = 256 * 1024;
export const MAX_SNIFF_RECORDS = 500;
/** Columns a sampled CSV may have, as for any CSV Sluice reads (MAX_CSV_COLUMNS' default). */
export const MAX_SNIFF_COLUMNS = 10_000;

const DEFAULT_QUOTE = '"';
const COMMA_DECIMAL = /^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$/;
const POINT_DECIMAL = /^[+-]?\d+\.\d+$/;
const THOUSANDS_ONLY = /^[+-]?\d{1,3}(?:\.\d{3})+$/;
/** A column name as people write them: starts with a letter or `_`, then words, units and punctuation. */
const NAME_LIKE = /^[\p{L}_][\p{L}\p{N} _.\-()/%°#[\]]*$/u;

interface ParsedRecord {
  record: string[];
  info: { lines: number; empty_lines: number };
}

/** The text sniffing looks at: no BOM, and no last line a cut sample may have broken off. */
function sniffText(sampleText: string): string {
  const text = (sampleText.charCodeAt(0) === 0xfeff ? sampleText.slice(1) : sampleText).slice(0, MAX_SNIFF_CHARS);
  if (/[\r\n]$/.test(text)) return text;
  const lastBreak = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return lastBreak > 0 ? text.slice(0, lastBreak + 1) : text;
}

/** Records of the sample with one delimiter, or null when it does not parse (a quote never closed). */
function parseRecords(text: string, delimiter: string, quote = DEFAULT_QUOTE): ParsedRecord[] | null {
  try {
    // With `info`, csv-parse returns each record with where it was found; its types do not say so.
    return parse(text, {
      delimiter,
      quote,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      info: true,
      to: MAX_SNIFF_RECORDS,
      max_record_size: MAX_SNIFF_CHARS,
    }) as unknown as ParsedRecord[];
  } catch {
    return null;
  }
}

/** The field count most records have (the larger on a tie) and how many have it. */
function modalFieldCount(records: ParsedRecord[]): { count: number; records: number } {
  const tally = new Map<number, number>();
  for (const { record } of records) tally.set(record.length, (tally.get(record.length) ?? 0) + 1);
  let best = { count: 0, records: 0 };
  for (const [count, n] of tally) if (n > best.records || (n === best.records && count > best.count)) best = { count, records: n };
  return best;
}

interface DelimiterChoice {
  delimiter: string;
  records: ParsedRecord[];
  fieldCount: number;
}

/**
 * The delimiter whose records most consistently have the same number (> 1) of fields; on a tie the one giving more
 * fields, then the earlier of `, ; \t |`. `,` with everything in one field when none splits the lines.
 */
function chooseDelimiter(text: string): DelimiterChoice {
  let best: (DelimiterChoice & { consistency: number }) | null = null;
  for (const delimiter of SNIFF_DELIMITERS) {
    const records = parseRecords(text, delimiter);
    if (!records || records.length === 0) continue;
    const modal = modalFieldCount(records);
    if (modal.count < 2) continue;
    const consistency = modal.records / records.length;
    if (!best || consistency > best.consistency || (consistency === best.consistency && modal.count > best.fieldCount)) {
      best = { delimiter, records, fieldCount: modal.count, consistency };
    }
  }
  if (best) return best;
  return { delimiter: ',', records: parseRecords(text, ',') ?? [], fieldCount: 1 };
}

/** Lines before the first record with the usual field count: a title, a unit line, blank lines. */
function countSkipLines(records: ParsedRecord[], fieldCount: number): { skipLines: number; first: number } {
  const first = Math.max(0, records.findIndex((r) => r.record.length === fieldCount));
  if (first === 0) return { skipLines: 0, first };
  const before = records[first - 1].info;
  return { skipLines: before.lines + (records[first].info.empty_lines - before.empty_lines), first };
}

/** Whether numbers in the records use `,` as decimal separator (`12,5`, `1.234,5`) more than `.`. */
function usesDecimalComma(delimiter: string, rows: string[][]): boolean {
  if (delimiter === ',') return false;
  let comma = 0;
  let point = 0;
  for (const row of rows) {
    for (const raw of row) {
      const field = raw.trim();
      if (COMMA_DECIMAL.test(field)) comma++;
      else if (POINT_DECIMAL.test(field) && !THOUSANDS_ONLY.test(field)) point++;
    }
  }
  return comma > 0 && comma >= point;
}

/**
 * Whether the first row names the columns. Where the later rows hold numbers, dates, times or flags, a header cell
 * does not read as one (and a data row does): the majority of such columns decides. When every column is text,
 * the row is a header if its cells are distinct, non-empty, look like names and do not recur below.
 */
function hasHeader(first: string[], rest: string[][], decimalComma: boolean): boolean {
  let forHeader = 0;
  let against = 0;
  first.forEach((cell, i) => {
    const below = rest.map((row) => row[i]).filter((v) => v !== undefined);
    const column = inferColumn('', below, { decimalComma });
    if (column.type === 'text' || below.every((v) => v.trim() === '')) return;
    if (fits(column.type, cell, { decimalComma, formats: column.formats }) && cell.trim() !== '') against++;
    else forHeader++;
  });
  if (forHeader + against > 0) return forHeader > against;
  const names = first.map((cell) => cell.trim());
  const repeatsBelow = names.some((name, i) => rest.some((row) => row[i]?.trim() === name));
  return !repeatsBelow && names.every((name) => NAME_LIKE.test(name)) && new Set(names).size === names.length;
}

/**
 * Guesses a CSV's format from the start of the file. Simple by design, and the guess is written into a contract a
 * person checks:
 * - delimiter: the one of `, ; \t |` that splits the records into the same number of fields most consistently
 *   (quoted fields respected, `"` as quote);
 * - skipLines: the lines before the first record with that number of fields (a title, blank lines);
 * - decimalComma: not with `,` as delimiter; otherwise when numbers are written `12,5` or `1.234,5` at least as often
 *   as `12.5`;
 * - header: see `hasHeader`.
 * The last line is ignored when the sample does not end with a line break (it may be cut off).
 */
export function sniffCsv(sampleText: string): CsvSniff {
  const text = sniffText(sampleText);
  const { delimiter, records, fieldCount } = chooseDelimiter(text);
  const { skipLines, first } = countSkipLines(records, fieldCount);
  const rows = records.slice(first).map((r) => r.record);
  const decimalComma = usesDecimalComma(delimiter, rows.slice(1));
  const header = rows.length > 0 && hasHeader(rows[0], rows.slice(1), decimalComma);
  return { delimiter, quote: DEFAULT_QUOTE, header, decimalComma, skipLines };
}

/**
 * The columns of a CSV sample read with a format (sniffed or written): header names as sources, or `columns`, or
 * `column_1`, `column_2`… without a header. Values stay text, as in the file.
 */
export function csvSampleColumns(
  sampleText: string,
  format: Pick<CsvSniff, 'delimiter' | 'quote' | 'header' | 'skipLines'> & { columns?: string[] },
): SampledColumn[] {
  const records = parseRecords(sniffText(sampleText), format.delimiter, format.quote);
  if (!records) throw new Error(`The sample does not read as CSV with delimiter ${JSON.stringify(format.delimiter)}: a quote is never closed.`);
  const rows = records.filter((r) => r.info.lines > format.skipLines).map((r) => r.record);
  const headerRow = format.header ? (rows.shift() ?? []) : [];
  const width = Math.max(headerRow.length, format.columns?.length ?? 0, ...rows.map((r) => r.length));
  if (width > MAX_SNIFF_COLUMNS) throw new Error(`The sample has ${width} columns; at most ${MAX_SNIFF_COLUMNS} are supported.`);
  return Array.from({ length: width }, (_, i) => ({
    source: format.columns?.[i] ?? (headerRow[i]?.trim() || `column_${i + 1}`),
    samples: rows.map((row) => row[i] ?? ''),
  }));
}
