import type { JsonSyntaxRule } from '../json/json-parser';
import type { ItemRule } from '../json/validate-document';
import type { RowRule } from '../sensor/sensor-record';

/**
 * Rule codes of a field a data contract refuses (`@sluice/datasets` compiles the checks); each makes its row a
 * row error and the rest of the file loads. Defined here, where every row error's rule is, so both can name them.
 */
export type ContractValueRule =
  | 'missing_value'
  | 'not_a_number'
  | 'out_of_range'
  | 'too_long'
  | 'not_in_enum'
  | 'pattern_mismatch'
  | 'invalid_bool'
  | 'invalid_timestamp'
  | 'invalid_date'
  | 'invalid_json'
  | 'tz_gap'
  | 'tz_ambiguous';

/**
 * Rule codes of a refused line or item of any kind: the CSV ones, a JSON item's, a JSON syntax error's, and a
 * line's; and those that end a file read by a data contract (a header it cannot use, CSV it cannot follow, a
 * document that is empty or too large), a contract's field checks, a key already loaded (`duplicate_key`) and
 * columns that differ from the contract's (`schema_drift`), and a line of a body taken by its kind naming another
 * kind (`mixed_kinds`).
 */
export type RecordRule =
  | RowRule
  | ItemRule
  | JsonSyntaxRule
  | ContractValueRule
  | 'line_too_long'
  | 'invalid_utf8'
  | 'invalid_header'
  | 'malformed_csv'
  | 'empty_file'
  | 'file_too_large'
  | 'schema_drift'
  | 'mixed_kinds';

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
