export * from './lib/contract';
export type { ColumnContext, ColumnValue, ColumnValueParser, ContractRule, ValueProblem } from './lib/values/column-value';
export { copyText } from './lib/values/column-value';
export { compileColumn } from './lib/values/compile-column';
export { type LocalToUtcResult, type WallTime, isKnownZone, localToUtc } from './lib/values/local-to-utc';
export { timeFormatProblem } from './lib/values/times';
