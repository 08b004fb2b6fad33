import type { Contract, ContractColumn, ContractFormat, SourceRecord, ValueProblem } from '@sluice/datasets';
import { cap, RAW_CAP, VALUE_CAP, type RowReject } from '@sluice/formats';
import type { ColumnPlan } from './column-plan';

/**
 * What one record of a contract's file becomes: a line of COPY text with its key, or a row error; and the row
 * errors a load writes about keys and about readers that stop.
 */

/** A record as one line of COPY text, with its key; or why it is refused. */
export interface Row {
  text: string;
  /** The key columns' COPY texts, tab-separated (a tab inside a value is escaped, so this is unambiguous). */
  key: string;
}

/** Turns records into COPY lines through the planned columns. */
export class RowMaker {
  private readonly isKey: boolean[];
  private readonly tail: string;
  private readonly keyTexts: string[];

  constructor(
    private readonly plan: ColumnPlan,
    private readonly contract: Contract,
    fileId: string,
  ) {
    const keys = new Set(contract.table.key);
    this.isKey = plan.columns.map((c) => keys.has(c.column.name));
    this.keyTexts = [];
    this.tail = `${fileId}\t`;
  }

  make(record: SourceRecord): Row | RowReject {
    let text = '';
    const keyTexts = this.keyTexts;
    keyTexts.length = 0;
    const { columns } = this.plan;
    for (let i = 0; i < columns.length; i++) {
      const planned = columns[i];
      const raw = planned.read(record);
      const value = planned.parse(raw);
      if (!value.ok) return valueReject(record, planned.column, value, raw, this.contract.format);
      if (value.text === null) {
        if (this.isKey[i]) {
          const missing: ValueProblem = { ok: false, rule: 'missing_value', message: `${planned.column.source} is part of the key and has no value; every row needs its key` };
          return valueReject(record, planned.column, missing, raw, this.contract.format);
        }
        text += '\\N\t';
      } else {
        text += `${value.text}\t`;
        if (this.isKey[i]) keyTexts.push(value.text);
      }
    }
    const key = keyTexts.length === 1 ? keyTexts[0] : keyTexts.join('\t');
    return { text: `${text}${this.tail}${record.line}\n`, key };
  }
}

/** Whether a reader's reject ends the file (the reader reads no further after it). */
export function endsFile(format: ContractFormat, reject: RowReject): boolean {
  switch (format.type) {
    case 'csv':
      return reject.rule === 'invalid_header' || reject.rule === 'malformed_csv' || reject.rule === 'empty_file' || reject.rule === 'line_too_long';
    case 'ndjson':
      return reject.rule === 'mixed_kinds';
    case 'json':
      // One item is refused for not being an object, naming a field twice or text PostgreSQL cannot hold;
      // anything else is about the document, which is read no further.
      return !(reject.rule === 'invalid_type' || reject.rule === 'invalid_utf8' || reject.rule === 'invalid_character' || (reject.rule === 'duplicate_key' && reject.column !== null));
  }
}

function valueReject(record: SourceRecord, column: ContractColumn, problem: ValueProblem, raw: unknown, format: ContractFormat): RowReject {
  return {
    line: record.line,
    column: column.source,
    rule: problem.rule,
    message: `line ${record.line}: ${problem.message}`,
    value: raw === undefined || raw === null ? null : cap(typeof raw === 'string' ? raw : JSON.stringify(raw), VALUE_CAP),
    raw: cap(Array.isArray(record.values) ? record.values.join(format.type === 'csv' ? format.delimiter : ',') : JSON.stringify(record.values), RAW_CAP),
  };
}

export function showKey(contract: Contract, texts: readonly string[]): string {
  return contract.table.key.map((k, i) => `${k}=${texts[i]}`).join(', ');
}

function keyColumn(contract: Contract): string {
  const sources = contract.table.key.map((k) => contract.columns.find((c) => c.name === k)?.source ?? k);
  return sources.join(', ');
}

export function duplicateInFile(line: number, earlier: number, key: string, contract: Contract): RowReject {
  return {
    line,
    column: keyColumn(contract),
    rule: 'duplicate_key',
    message: `line ${line}: the key (${cap(key, VALUE_CAP)}) is already on line ${earlier} of this file; contract "${contract.name}" takes each key once (on_duplicate_key: reject)`,
    value: cap(key, VALUE_CAP),
    raw: '',
  };
}

export function duplicateLoaded(line: number, fileId: string, atLine: number, key: string, contract: Contract): RowReject {
  return {
    line,
    column: keyColumn(contract),
    rule: 'duplicate_key',
    message: `line ${line}: the key (${cap(key, VALUE_CAP)}) is already loaded from line ${atLine} of file ${fileId}; contract "${contract.name}" takes each key once (on_duplicate_key: reject)`,
    value: cap(key, VALUE_CAP),
    raw: '',
  };
}
