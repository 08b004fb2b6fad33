import type { JsonSyntaxRule } from '../json/json-parser';
import type { ItemRule } from '../json/validate-document';
import type { RowRule } from '../sensor/sensor-record';

/**
 * Rule codes of a refused line or item of any kind: the CSV ones, a JSON item's, a JSON syntax error's, and a
 * line's; and those that end a file read by a data contract (a header it cannot use, CSV it cannot follow, a
 * document that is empty or too large).
 */
export type RecordRule = RowRule | ItemRule | JsonSyntaxRule | 'line_too_long' | 'invalid_utf8' | 'invalid_header' | 'malformed_csv' | 'empty_file' | 'file_too_large';

/**
 * A refused line or item: where (line; column is the CSV column or the JSON field path), which rule, a
 * sentence a person can act on, the value and the line itself (capped).
 */
export interface RowReject {
  line: number;
  column: string | null;
  rule: RecordRule;
  message: string;
  value: string | null;
  raw: string;
}
