import { IANAZone } from 'luxon';
import { Document, isMap, isScalar, isSeq, Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ContractFormat } from '../contract';
import { globFromFileName } from './glob';
import { inferColumn, MAX_IDENTIFIER_LENGTH, type InferredColumn } from './infer-column';
import type { SampledColumn } from './sniff-csv';
import { isEmptyValue, valueText } from './values';

export interface InferContractInput {
  /** The contract's name: its file is `NAME.yaml`, its table `NAME` by default. */
  name: string;
  /** The sampled file's name (a path is fine: only the name is used). */
  fileName: string;
  /** The file's format, as sniffed (CSV) or detected (JSON, NDJSON). */
  format: ContractFormat;
  /** The sampled columns, in file order; sample `i` of every column comes from record `i`. */
  columns: SampledColumn[];
  /** How many records the samples come from. */
  rowsSampled: number;
  /** IANA zone of the file's local times, when the person said (`--timezone`). */
  timezone?: string;
}

const CONTRACT_NAME = /^[a-z_][a-z0-9_]*$/;
/** Most columns a contract is inferred with; a wider file is not a table a person would describe by hand. */
export const MAX_CONTRACT_COLUMNS = 1_600;
/** Names of columns that identify a thing (a station, a device, an order), the other half of a time series key. */
const ID_NAME = /(?:^|_)(?:id|ids|key|code|uuid|guid|station|sensor|device|site|meter|serial|sku|name)(?:_|$)/;
const KEY_TYPES = new Set(['text', 'int', 'bigint', 'date', 'timestamptz']);

/** The table column names of the inferred columns, made distinct (`value`, `value_2`) where sources collide. */
function distinctNames(columns: InferredColumn[]): InferredColumn[] {
  const taken = new Set<string>();
  return columns.map((column) => {
    let name = column.name;
    for (let n = 2; taken.has(name); n++) {
      const suffix = `_${n}`;
      name = column.name.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length) + suffix;
    }
    taken.add(name);
    return { ...column, name };
  });
}

interface KeyGuess {
  key: string[];
  why: string;
}

/**
 * A plausible primary key: an id-like column with the first time column when the pair is unique in the sample (a
 * time series), else the time column alone, a text column with it, or the first column whose values are all there
 * and distinct. Only a guess: a sample proves no key.
 */
function guessKey(columns: InferredColumn[], samples: unknown[][]): KeyGuess {
  const rows = Math.max(0, ...samples.map((s) => s.length));
  const usable = (i: number) => KEY_TYPES.has(columns[i].type) && rows > 0 && samples[i].length === rows && !samples[i].some(isEmptyValue);
  const unique = (indexes: number[]) =>
    new Set(Array.from({ length: rows }, (_, r) => JSON.stringify(indexes.map((i) => valueText(samples[i][r]))))).size === rows;
  const indexes = columns.map((_, i) => i).filter(usable);
  const time = indexes.find((i) => columns[i].type === 'timestamptz');
  if (time !== undefined) {
    const others = indexes.filter((i) => i !== time && columns[i].type !== 'timestamptz');
    const idLike = others.find((i) => ID_NAME.test(columns[i].name) && unique([i, time]));
    const pair = (i: number): KeyGuess => ({
      key: [columns[i].name, columns[time].name],
      why: `${columns[i].name} and ${columns[time].name} are together unique in the sample`,
    });
    if (idLike !== undefined) return pair(idLike);
    if (unique([time])) return { key: [columns[time].name], why: `${columns[time].name} is unique in the sample` };
    const text = others.find((i) => columns[i].type === 'text' && unique([i, time]));
    if (text !== undefined) return pair(text);
  }
  const single = indexes.find((i) => unique([i]));
  if (single !== undefined) return { key: [columns[single].name], why: `${columns[single].name} is the first column unique in the sample` };
  return { key: [], why: 'no column is unique in the sample: name the columns that identify a row' };
}

/** One line of comment text: no line breaks, not too long to read. */
function commentLine(text: string, max = 200): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return ` ${line.length > max ? `${line.slice(0, max - 1)}…` : line}`;
}

function columnComment(column: InferredColumn, rowsSeen: number): string {
  const seen = column.examples.length > 0 ? `seen ${column.examples.map((e) => JSON.stringify(e)).join(', ')}` : 'no values seen';
  const required = column.required ? `; required: no empty value in ${rowsSeen} rows` : '';
  return commentLine(`${column.source}: ${seen} → ${column.type}: ${column.reason}${required}`, 300);
}

/** The `format` section; a CSV without a header names its columns by the sources sampled. */
function formatNode(format: ContractFormat, sources: string[]): Record<string, unknown> {
  switch (format.type) {
    case 'csv':
      return {
        type: 'csv',
        delimiter: format.delimiter,
        quote: format.quote,
        header: format.header,
        ...(format.header ? {} : { columns: format.columns ?? sources }),
        decimal_comma: format.decimalComma,
        encoding: format.encoding,
        skip_lines: format.skipLines,
      };
    case 'ndjson':
      return { type: 'ndjson' };
    case 'json':
      return { type: 'json', records_path: format.recordsPath };
  }
}

function quoteDouble(node: unknown): void {
  if (isScalar(node)) node.type = Scalar.QUOTE_DOUBLE;
  else if (isSeq(node)) node.items.forEach(quoteDouble);
}

/** The key scalar of a top-level or nested pair, to hang a comment before it. */
function keyNode(map: YAMLMap, key: string): Scalar {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) throw new Error(`The contract document has no ${key}.`);
  return pair.key;
}

/**
 * The YAML of a new contract inferred from a sample of a file, for a person to check and edit: a header comment
 * saying where it came from and what to check, each column with the values seen and why its type was chosen, a
 * guessed key marked as such, and the timezone set (`timezone`) or left for the person to fill in when the file
 * has local times without an offset (a contract without it is refused when read, on purpose).
 */
export function inferContract(input: InferContractInput): string {
  if (!CONTRACT_NAME.test(input.name) || input.name.length > MAX_IDENTIFIER_LENGTH) {
    throw new Error(
      `The contract name ${JSON.stringify(input.name.slice(0, 100))} is not usable as a table name: use lower-case letters, digits and _ (at most ${MAX_IDENTIFIER_LENGTH}), starting with a letter or _.`,
    );
  }
  if (input.timezone !== undefined && (input.timezone.length > 64 || !IANAZone.isValidZone(input.timezone))) {
    throw new Error(
      `The timezone ${JSON.stringify(input.timezone.slice(0, 100))} is not an IANA zone: name one like Europe/Berlin, America/New_York or UTC.`,
    );
  }
  if (input.columns.length === 0) throw new Error('The sample has no columns to infer a contract from.');
  if (input.columns.length > MAX_CONTRACT_COLUMNS) {
    throw new Error(`The sample has ${input.columns.length} columns; a contract can be inferred for at most ${MAX_CONTRACT_COLUMNS}.`);
  }
  const decimalComma = input.format.type === 'csv' && input.format.decimalComma;
  const columns = distinctNames(input.columns.map((c) => inferColumn(c.source, c.samples, { decimalComma })));
  const key = guessKey(columns, input.columns.map((c) => c.samples));
  const timeColumn = columns.find((c) => c.type === 'timestamptz');
  const naive = columns.filter((c) => c.naive);
  const fileName = (input.fileName.split(/[\\/]/).pop() ?? input.fileName).slice(0, 255);
  const glob = globFromFileName(fileName);
  const sources = input.columns.map((c) => c.source);

  const doc = new Document({
    inputs: { glob },
    format: formatNode(input.format, sources),
    ...(input.timezone ? { timezone: input.timezone } : {}),
    columns: columns.map((c) => ({
      source: c.source,
      name: c.name,
      type: c.type,
      ...(c.required ? { required: true } : {}),
      ...(c.formats ? { formats: c.formats } : {}),
    })),
    table: {
      name: input.name,
      key: key.key,
      on_duplicate_key: 'reject',
      ...(timeColumn ? { time_column: timeColumn.name } : {}),
    },
    drift: 'quarantine',
  });
  const root = doc.contents as YAMLMap;

  doc.commentBefore = [
    commentLine(`Contract "${input.name}", inferred by \`sluice contract init\` from ${input.rowsSampled} rows of ${fileName}.`, 400),
    ' A sample shows what a file held, not what the next one will: check before loading with it.',
    ' - each column: its type and formats (the comment above it says what was seen and why);',
    ' - required: true where no sampled value was empty, which may be chance;',
    ' - table.key, a guess (rows with the same key collide: on_duplicate_key says what happens);',
    ' - inputs.glob: the file names this contract takes;',
    ...(naive.length > 0 ? [' - timezone: the zone the local times were written in.'] : []),
  ].join('\n');

  const inputs = root.get('inputs') as YAMLMap;
  (inputs.get('glob', true) as Scalar).comment = commentLine(`from ${fileName}: its dates and numbers made *`);
  quoteDouble(inputs.get('glob', true));

  const format = root.get('format') as YAMLMap;
  keyNode(root, 'format').commentBefore = commentLine(
    input.format.type === 'csv' ? 'Sniffed from the sample: check the delimiter, header and decimal comma.' : 'Detected from the file.',
  );
  if (input.format.type === 'csv') {
    quoteDouble(format.get('delimiter', true));
    const names = format.get('columns', true);
    if (isSeq(names)) names.flow = true;
  }
  if (input.format.type === 'json' && input.format.recordsPath === '') {
    (format.get('records_path', true) as Scalar).comment = ' the document is the array of records';
  }

  const naiveNames = naive.map((c) => c.name).join(', ');
  if (input.timezone) {
    const zone = root.get('timezone', true) as Scalar;
    zone.comment = commentLine(naive.length > 0 ? `IANA zone of the local times in ${naiveNames}` : 'IANA zone of local times');
  } else if (naive.length > 0) {
    keyNode(root, 'columns').commentBefore = [
      commentLine(`${naiveNames}: local times without an offset. In which IANA zone were they written?`),
      ' Uncomment and set it (Europe/Berlin, America/New_York, UTC…); a contract without it is refused.',
      ' timezone: Area/City',
    ].join('\n');
  }

  const columnItems = (root.get('columns') as YAMLSeq).items;
  columnItems.forEach((item, i) => {
    if (!isMap(item)) return;
    item.flow = true;
    item.commentBefore = columnComment(columns[i], columns[i].rowsSeen);
    const formats = item.get('formats', true);
    if (isSeq(formats)) {
      formats.flow = true;
      quoteDouble(formats);
    }
  });

  const table = root.get('table') as YAMLMap;
  const keySeq = table.get('key', true);
  if (isSeq(keySeq)) {
    keySeq.flow = true;
    keySeq.comment = commentLine(`a guess: ${key.why}`);
  }
  (table.get('on_duplicate_key', true) as Scalar).comment = ' or skip, or newest_wins with newest_by';
  if (timeColumn) (table.get('time_column', true) as Scalar).comment = ' the first timestamptz column';
  (root.get('drift', true) as Scalar).comment = ' a file whose columns differ waits in quarantine (or ignore_extra, add_columns)';

  return doc.toString({ lineWidth: 0 });
}
